"""GridNavi study: DynaMITE-RL against its baselines at one fixed env-step budget.

`dynamite`, `varibad`, `rl2`, `oracle` and `markov_ppo` on GridNavi (p = 0.07), several
seeds each, as one Ray Tune experiment (one CPU per trial, EnvRunner in the trial's own
process). Prints the final mean return ± std across seeds (mean of each run's last
`--final-iterations` iterations) and writes a learning-curve PNG and a Markdown table.

    .venv/bin/python benchmarks/gridnavi_study.py --timesteps 1000000 --seeds 3 \
        --output results/gridnavi_study

Run it alone: each trial gets one of the machine's cores.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import ray  # noqa: E402
from ray import tune  # noqa: E402

import rllib_dynamite  # noqa: E402, F401
from rllib_dynamite.config import ConfigError, make_config, resolve_settings  # noqa: E402

ENV = "rllib_dynamite/GridNavi-v0"
METHODS = ("dynamite", "varibad", "rl2", "oracle", "markov_ppo")  # the default set
ORDER = (*METHODS, "no_consistency", "no_conditioning", "no_masking")  # tables and plots
# Learner metrics kept beside the return (NaN where a method has no such term).
DIAGNOSTICS = {
    "entropy": "entropy",
    "vae_reconstruction": "vae_reconstruction_loss",
    "vae_kl": "vae_kl_loss",
    "vae_consistency": "vae_consistency_loss",
    "vae_termination_f1": "vae_termination_f1",
}


def train_one(trial_config: dict) -> None:
    """Tune function trainable: one (method, seed) run, reporting every iteration."""
    config = make_config(
        ENV,
        trial_config["method"],
        num_env_runners=0,
        seed=trial_config["seed"],
        **trial_config.get("overrides", {}),
    )
    algo = config.build_algo()
    try:
        steps = 0
        while steps < trial_config["timesteps"]:
            result = algo.train()
            steps = result["num_env_steps_sampled_lifetime"]
            learner = result.get("learners", {}).get("default_policy", {})
            tune.report(
                {
                    "env_steps": steps,
                    "episode_return_mean": result["env_runners"]["episode_return_mean"],
                    # To read a curve against the policy and the belief model.
                    **{name: float(learner.get(key, np.nan)) for name, key in DIAGNOSTICS.items()},
                }
            )
    finally:
        algo.stop()


def load_runs(results: tune.ResultGrid) -> dict[tuple[str, int], pd.DataFrame]:
    """Each finished (method, seed) run's curve."""
    runs = {}
    for result in results:
        if not result.config or result.metrics_dataframe is None:  # not started
            continue
        method, seed = label(result.config), result.config["seed"]
        frame = result.metrics_dataframe
        columns = ["env_steps", "episode_return_mean"]
        columns += [c for c in DIAGNOSTICS if c in frame.columns]  # older runs lack them
        runs[(method, seed)] = frame[columns].assign(method=method, seed=seed)
    return runs


def label(trial_config: dict) -> str:
    """The run's method, with its ``--set`` overrides if any (``dynamite vae_lr=0.001``)."""
    overrides = trial_config.get("overrides") or {}
    return " ".join([trial_config["method"], *(f"{k}={v}" for k, v in sorted(overrides.items()))])


def ordered(methods: Iterable[str]) -> list[str]:
    """Presets in ORDER first, then variants with overrides, alphabetically."""
    methods = set(methods)
    return [m for m in ORDER if m in methods] + sorted(methods - set(ORDER))


def summarise(frame: pd.DataFrame, final_iterations: int) -> pd.DataFrame:
    """Final return per run (mean of its last iterations), then mean ± std over seeds."""
    final = (
        frame.sort_values("env_steps")
        .groupby(["method", "seed"])["episode_return_mean"]
        .apply(lambda r: r.tail(final_iterations).mean())
        .reset_index()
    )
    table = final.groupby("method")["episode_return_mean"].agg(["mean", "std", "count"])
    return table.reindex(ordered(table.index))


def plot(frame: pd.DataFrame, path: Path, bin_steps: int = 20_000) -> None:
    figure, axis = plt.subplots(figsize=(7, 4.5))
    frame = frame.assign(bin=(frame["env_steps"] // bin_steps + 1) * bin_steps)
    for method in ordered(frame["method"].unique()):
        runs = frame[frame["method"] == method]
        if runs.empty:
            continue
        per_seed = runs.groupby(["seed", "bin"])["episode_return_mean"].mean().unstack(0)
        mean, std = per_seed.mean(axis=1), per_seed.std(axis=1).fillna(0.0)
        axis.plot(mean.index, mean.values, label=method)
        axis.fill_between(mean.index, mean - std, mean + std, alpha=0.2)
    axis.set_xlabel("env steps")
    axis.set_ylabel("mean episode return")
    axis.set_title("GridNavi (p = 0.07): mean ± std over seeds")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated presets, of {','.join(ORDER)}",
    )
    parser.add_argument("--final-iterations", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--output", default="results/gridnavi_study")
    parser.add_argument(
        "--merge",
        nargs="*",
        default=[],
        help="earlier Tune experiment dirs of this study; a (method, seed) run found again "
        "in a later dir (or in this run) replaces the earlier one",
    )
    parser.add_argument("--no-run", action="store_true", help="only summarise --merge dirs")
    parser.add_argument(
        "--at-steps", type=int, default=0, help="summarise every run up to this many env steps"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a DynamiteSettings override for every method (repeatable), e.g. vae_lr=1e-3",
    )
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = json.loads(value)
    try:  # one clear error before Ray starts
        for method in args.methods.split(","):
            resolve_settings(ENV, method, **overrides)
    except ConfigError as error:
        parser.error(str(error))
    output = Path(args.output).resolve()
    output.mkdir(parents=True, exist_ok=True)

    runs: dict[tuple[str, int], pd.DataFrame] = {}
    for directory in args.merge:
        # Tune reads a relative path as a URI without a scheme: pass it absolute.
        restored = tune.Tuner.restore(str(Path(directory).resolve()), trainable=train_one)
        runs.update(load_runs(restored.get_results()))
    if not args.no_run:
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 1024**2)
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        tuner = tune.Tuner(
            tune.with_resources(train_one, {"cpu": 1}),
            param_space={
                "method": tune.grid_search(args.methods.split(",")),
                "seed": tune.grid_search(seeds),
                "timesteps": args.timesteps,
                "overrides": overrides,
            },
            run_config=tune.RunConfig(name="gridnavi_study", storage_path=str(output), verbose=1),
        )
        runs.update(load_runs(tuner.fit()))
    frame = pd.concat(runs.values(), ignore_index=True)
    if args.at_steps:  # compare runs of different lengths at one budget
        frame = frame[frame["env_steps"] <= args.at_steps]
    frame.to_csv(output / "curves.csv", index=False)
    table = summarise(frame, args.final_iterations)
    lines = [
        "| method | final return (mean ± std over seeds) | runs |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {m} | {row['mean']:.2f} ± {np.nan_to_num(row['std']):.2f} | {int(row['count'])} |"
        for m, row in table.iterrows()
    ]
    markdown = "\n".join(lines)
    (output / "table.md").write_text(markdown + "\n")
    plot(frame, output / "gridnavi_curves.png")
    lengths = frame.groupby(["method", "seed"])["env_steps"].max()
    print(f"\nenv steps per run: {int(lengths.min()):,} to {int(lengths.max()):,}; final = "
          f"mean of the last {args.final_iterations} iterations")  # fmt: skip
    print(markdown)
    print(f"curves: {output / 'gridnavi_curves.png'}")


if __name__ == "__main__":
    main()
