"""Offline GridNavi: DynaMITE-RL, VariBAD and BC from one fixed dataset (docs/offline.md).

1. Train an Oracle PPO policy (it sees the goal) for `--oracle-iterations` iterations:
   a partly trained behaviour policy.
2. Collect `--episodes` episodes of it with `--epsilon` random actions; the dataset keeps
   the env's observation (not the goal) and the session labels.
3. Run the offline pipeline for each method and seed: `dynamite`, `varibad`, `bc`, and
   `dynamite` without session labels (`dynamite-label-free`).
4. Print the mean evaluation return ± std over seeds beside the behaviour policy's own
   return in the data, and write a Markdown table and a JSON file under `--output`.

    .venv/bin/python benchmarks/offline_gridnavi.py --seeds 3 --output results/offline_gridnavi

Steps 1-2 are reused when their outputs exist under `--output`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import ray

import rllib_dynamite  # noqa: F401
from rllib_dynamite.config import make_config
from rllib_dynamite.offline.collect import collect
from rllib_dynamite.offline.dataset import CARD_FILE, read_dataset
from rllib_dynamite.offline.pipeline import plan_offline, run_offline
from rllib_dynamite.offline.settings import offline_settings

ENV = "rllib_dynamite/GridNavi-v0"
METHODS = ("dynamite", "varibad", "bc", "dynamite-label-free")


def train_oracle(path: Path, iterations: int) -> Path:
    """A partly trained Oracle PPO checkpoint (reused if present)."""
    if (path / "algorithm_state.pkl").is_file():
        print(f"oracle: reusing {path}")
        return path
    config = make_config(ENV, "oracle", num_env_runners=0, seed=0)
    algo = config.build_algo()
    try:
        for iteration in range(iterations):
            result = algo.train()
            if iteration % 10 == 0 or iteration == iterations - 1:
                episode_return = result["env_runners"]["episode_return_mean"]
                print(f"oracle iteration {iteration:3d}: training return {episode_return:.3f}")
        algo.save_to_path(str(path.resolve()))
    finally:
        algo.stop()
    return path


def run_method(method: str, dataset, seed: int, output: Path, args) -> dict:
    preset = "dynamite" if method == "dynamite-label-free" else method
    offline = offline_settings(
        belief_steps=args.belief_steps,
        rl_iterations=args.rl_iterations,
        eval_episodes=args.eval_episodes,
        no_session_labels=method == "dynamite-label-free",
        log_interval=max(args.belief_steps, args.rl_iterations),
    )
    plan = plan_offline(dataset, preset, offline=offline, seed=seed)
    started = time.perf_counter()
    result = run_offline(plan, output / f"{method}_seed={seed}", log=lambda line: None)
    metrics = result.metrics
    row = {
        "method": method,
        "seed": seed,
        "return": metrics["episode_return_mean"],
        "termination_f1": metrics.get("termination_f1"),
        "termination_recall_within_5": metrics.get("termination_recall_within_5"),
        "termination_precision_within_5": metrics.get("termination_precision_within_5"),
        "belief_readout_r2": metrics.get("belief_readout_r2"),
        "seconds": time.perf_counter() - started,
    }
    print(f"{method:>20} seed {seed}: return {row['return']:.3f} ({row['seconds']:.0f} s)")
    return row


def _mean_std(values: list[float]) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "–"
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle-iterations", type=int, default=30)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--epsilon", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--belief-steps", type=int, default=1000)
    parser.add_argument("--rl-iterations", type=int, default=300)
    parser.add_argument("--eval-episodes", type=int, default=25)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--output", type=Path, default=Path("results/offline_gridnavi"))
    args = parser.parse_args()

    args.output.mkdir(parents=True, exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 1024**2)
    checkpoint = train_oracle(args.output / "oracle", args.oracle_iterations)
    data = args.output / "dataset"
    if not (data / CARD_FILE).is_file():
        collect(data, policy=str(checkpoint), num_episodes=args.episodes,
                epsilon=args.epsilon, seed=0)  # fmt: skip
    dataset = read_dataset(data)
    card = dataset.card
    print(
        f"dataset: {card.episodes} episodes, behaviour return {card.return_mean:.3f} "
        f"± {card.return_std:.3f} (epsilon {card.behaviour_policy['epsilon']})"
    )
    rows = [
        run_method(method, dataset, seed, args.output, args)
        for method in args.methods
        for seed in range(args.seeds)
    ]
    lines = [
        "| method | return (mean ± std over seeds) | termination F1 | "
        "boundaries found within 5 steps | belief read-out R² |",
        "| --- | --- | --- | --- | --- |",
        f"| behaviour policy (in the data) | {card.return_mean:.2f} ± {card.return_std:.2f} "
        "(over episodes) | – | – | – |",
    ]
    for method in args.methods:
        mine = [r for r in rows if r["method"] == method]
        lines.append(
            f"| {method} | {_mean_std([r['return'] for r in mine])} | "
            f"{_mean_std([r['termination_f1'] for r in mine])} | "
            f"{_mean_std([r['termination_recall_within_5'] for r in mine])} | "
            f"{_mean_std([r['belief_readout_r2'] for r in mine])} |"
        )
    table = "\n".join(lines)
    print(table)
    (args.output / "table.md").write_text(table + "\n")
    (args.output / "results.json").write_text(
        json.dumps({"args": vars(args) | {"output": str(args.output)}, "rows": rows}, indent=2)
        + "\n"
    )
    ray.shutdown()


if __name__ == "__main__":
    main()
