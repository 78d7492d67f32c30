"""Calibration: every comparison's upper bounds against scripted references.

Before methods are compared on a gridworld, its two memoryless presets must be sound:
``oracle`` (the true goal in its observation) must reach 95% of a scripted policy that
walks to the true goal, and ``markov_ppo`` (its cell only) 95% of the best scripted
memoryless policy (walk to one goal cell and stay). For a negative reference, "95%" reads
as "within 5% of its magnitude": the gate is ``R ≥ R_ref − 0.05·|R_ref|``.

Each trained trial's final checkpoint is evaluated greedily on ``--episodes`` episodes
seeded like the scripted references (``evaluation/scripted.py``), so both meet the same
goal sequences. Results are Tune directories of ``rllib-dynamite tune``; with
``--train`` the calibration YAMLs are run first (``tune_configs/calibration_gridnavi.yaml``,
``calibration_two_goal_gridnavi.yaml`` and ``calibration_paper_gridnavi.yaml``).

    python benchmarks/calibration.py --train --output results/calibration
    python benchmarks/calibration.py results/calibration/calibration_gridnavi results/...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from rllib_dynamite import cli
from rllib_dynamite.envs import make
from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.evaluation.checkpoints import find_checkpoint
from rllib_dynamite.evaluation.scripted import scripted_references

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_YAMLS = (
    ROOT / "tune_configs" / "calibration_gridnavi.yaml",
    ROOT / "tune_configs" / "calibration_two_goal_gridnavi.yaml",
    ROOT / "tune_configs" / "calibration_paper_gridnavi.yaml",
)
GATE = 0.95
# preset -> the scripted reference it is held to.
HELD_TO = {"oracle": "oracle", "markov_ppo": "memoryless"}


def passes(value: float, reference: float) -> bool:
    """``value`` reaches 95% of ``reference`` (within 5% of its magnitude if negative)."""
    return value >= reference - (1.0 - GATE) * abs(reference)


def _trials(results: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    trials = []
    for results_dir in results:
        if not results_dir.is_dir():
            raise FileNotFoundError(f"no such results directory: {results_dir}")
        for params in sorted(results_dir.rglob("params.json")):
            config = json.loads(params.read_text())
            if config.get("preset") in HELD_TO:
                trials.append((params.parent, config))
    if not trials:
        raise FileNotFoundError(f"no oracle or markov_ppo trial under {[str(r) for r in results]}")
    return trials


def _variant(config: dict[str, Any]) -> tuple[str, str]:
    env_config = dict(config["settings"].get("env_config", {}))
    return config["env"], json.dumps(env_config, sort_keys=True)


def evaluate_trials(
    results: list[Path], episodes: int, seed: int
) -> dict[tuple[str, str], dict[str, list[tuple[int, float]]]]:
    """``{(env, env_config): {preset: [(seed, greedy return), ...]}}``."""
    table: dict[tuple[str, str], dict[str, list[tuple[int, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for trial_dir, config in _trials(results):
        checkpoint = find_checkpoint(trial_dir)
        evaluator = Evaluator.from_checkpoint(checkpoint, seed=seed)
        try:
            report = evaluator.evaluate(episodes, with_figure=False)
        finally:
            evaluator.stop()
        value = float(report.metrics["episode_return_mean"])
        table[_variant(config)][config["preset"]].append((config["settings"]["seed"], value))
        print(f"  {trial_dir.name}: {value:.2f}", flush=True)
    return table


def calibrate(results: list[Path], episodes: int, seed: int) -> tuple[list[str], bool]:
    """The Markdown table and whether every gate passed."""
    table = evaluate_trials(results, episodes, seed)
    lines = [
        f"Greedy return over {episodes} episodes (seed {seed}); a preset's value is the mean "
        "over its training seeds, its ratio is to the reference it is held to "
        "(its difference, for a negative reference).",
        "",
        "| env | env_config | random | best memoryless | scripted oracle | "
        "markov_ppo (ratio) | oracle preset (ratio) | gate |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    all_pass = True
    for (env_id, env_config), presets in sorted(table.items()):
        env = make(env_id, **json.loads(env_config))
        references = scripted_references(env, episodes, seed)
        env.close()
        cells, verdicts = [], []
        for preset, reference_name in HELD_TO.items():
            if preset not in presets:
                cells.append("not run")
                verdicts.append(False)
                continue
            values = [value for _, value in presets[preset]]
            mean, reference = float(np.mean(values)), references[reference_name].mean
            verdicts.append(passes(mean, reference))
            # A ratio to a negative reference reads backwards (-3.4 / -2.9 = 1.16): give
            # the difference there instead.
            versus = f"{mean / reference:.2f}" if reference > 0 else f"{mean - reference:+.2f}"
            cells.append(
                f"{mean:.2f} ({versus}; {len(values)} seeds: "
                + ", ".join(f"{v:.1f}" for v in values)
                + ")"
            )
        ok = all(verdicts)
        all_pass &= ok
        lines.append(
            f"| {env_id} | {env_config} | {references['random'].mean:.2f} | "
            f"{references['memoryless'].mean:.2f} | {references['oracle'].mean:.2f} | "
            f"{cells[1]} | {cells[0]} | {'pass' if ok else 'FAIL'} |"
        )
        lines.append(f"|  | memoryless: {references['memoryless'].description} |||||||")
    return lines, all_pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="*", help="Tune results directories")
    parser.add_argument("--train", action="store_true", help="run the calibration YAMLs first")
    parser.add_argument("--output", type=Path, default=Path("results"), help="for --train")
    parser.add_argument("--episodes", type=int, default=1000, help="evaluation episodes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the evaluation episodes")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    results = list(args.results)
    if args.train:
        for yaml_file in CALIBRATION_YAMLS:
            status = cli.main(["tune", str(yaml_file), "--output", str(args.output)])
            if status:
                return status
            results.append(args.output / yaml_file.stem)
    if not results:
        parser.error("give results directories, or --train")
    try:
        lines, all_pass = calibrate(results, args.episodes, args.seed)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    print("calibration gate: " + ("PASS" if all_pass else "FAIL"))
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
