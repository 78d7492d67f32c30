"""Calibration: every comparison's upper bounds against scripted references.

Before methods are compared on an env, its two memoryless presets must be sound. Two
gates, by what the env's scripted references are (``evaluation/scripted.py``):

- **95% of a bound** (the gridworlds, whose scripted references are the best of their
  class): ``oracle`` (the true goal in its observation) must reach 95% of a scripted
  policy that walks to the true goal, and ``markov_ppo`` (its cell only) 95% of the best
  scripted memoryless policy (walk to one goal cell and stay). For a negative reference,
  "95%" reads as "within 5% of its magnitude": ``R ≥ R_ref − 0.05·|R_ref|``.
- **Clear separation** (every other env: Reacher, HalfCheetahVel and ScratchItch, whose
  scripted policies are only simple, and your own envs, which have none): ``oracle`` must
  be clearly above ``markov_ppo``, and ``markov_ppo`` clearly above a uniformly random
  policy. *Clearly*: the bands mean ± std over training seeds do not overlap
  (``mean_hi − std_hi > mean_lo + std_lo``; std is the sample standard deviation, 0
  for one seed). A scripted reference is one policy played on the very episodes every
  preset plays, so its band is its mean. The scripted references an env has are
  printed beside the presets.

Each trained trial's final checkpoint is evaluated greedily on ``--episodes`` episodes
seeded like the scripted references, so both meet the same latent sequences. Results
are Tune directories of ``rllib-dynamite tune``; with ``--train`` the gridworld
calibration YAMLs are run first (``tune_configs/calibration/gridnavi.yaml``,
``two_goal_gridnavi.yaml`` and ``paper_gridnavi.yaml``). The continuous envs'
(``calibration/reacher.yaml``, about 35 minutes on 2 CPUs, estimated;
``calibration/halfcheetah_vel.yaml``, 40 minutes, measured) are run on their own, then
read the same way, on fewer episodes: a MuJoCo checkpoint's greedy episodes play at
~250 env steps/s, so 100 episodes of 200 steps take ~1.5 minutes per trial.

    python benchmarks/calibration.py --train --output results/calibration
    python benchmarks/calibration.py results/calibration/calibration_gridnavi results/...
    rllib-dynamite tune tune_configs/calibration/reacher.yaml --output results
    python benchmarks/calibration.py results/calibration_reacher --episodes 100
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
from rllib_dynamite.evaluation.scripted import (
    NoScriptedReferences,
    Reference,
    random_reference,
    scripted_references,
)

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_YAMLS = (
    ROOT / "tune_configs" / "calibration" / "gridnavi.yaml",
    ROOT / "tune_configs" / "calibration" / "two_goal_gridnavi.yaml",
    ROOT / "tune_configs" / "calibration" / "paper_gridnavi.yaml",
)
GATE = 0.95
# preset -> the scripted reference it is held to.
HELD_TO = {"oracle": "oracle", "markov_ppo": "memoryless"}


def passes(value: float, reference: float) -> bool:
    """``value`` reaches 95% of ``reference`` (within 5% of its magnitude if negative)."""
    return value >= reference - (1.0 - GATE) * abs(reference)


def band(values: list[float]) -> tuple[float, float]:
    """``(mean, std)`` of per-seed values; the sample std, 0 for one value."""
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), std


def clearly_above(upper: list[float], lower: list[float]) -> bool:
    """The band mean ± std of ``upper`` lies wholly above that of ``lower``."""
    upper_mean, upper_std = band(upper)
    lower_mean, lower_std = band(lower)
    return upper_mean - upper_std > lower_mean + lower_std


def references_for(env_id: str, env_config: str, episodes: int, seed: int) -> dict[str, Reference]:
    """The env's scripted references, or only a random policy's where it has none."""
    env = make(env_id, **json.loads(env_config))
    try:
        return scripted_references(env, episodes, seed)
    except NoScriptedReferences:
        return {"random": random_reference(env, episodes, seed)}
    finally:
        env.close()


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
        f"Greedy return over {episodes} episodes (seed {seed}). Gate 95%: a preset's "
        "value is the mean over its training seeds, with its ratio to the scripted bound "
        "it is held to (its difference, for a negative bound). Gate bands: mean ± std "
        "over training seeds; oracle > markov_ppo > random without overlap.",
        "",
        "| env | env_config | random | best memoryless | scripted oracle | "
        "markov_ppo | oracle preset | gate |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    all_pass = True
    for (env_id, env_config), presets in sorted(table.items()):
        references = references_for(env_id, env_config, episodes, seed)
        values = {preset: [value for _, value in runs] for preset, runs in presets.items()}
        held = [references.get(name) for name in HELD_TO.values()]
        if all(reference is not None and reference.bound for reference in held):
            rule = "95%"
            cells, ok = _bound_gate(values, references)
        else:
            rule = "bands"
            cells, ok = _band_gate(values, references["random"].mean)
        all_pass &= ok
        scripted = [
            f"{references[name].mean:.2f}" if name in references else "—"
            for name in ("random", "memoryless", "oracle")
        ]
        lines.append(
            f"| {env_id} | {env_config} | {' | '.join(scripted)} | "
            f"{cells['markov_ppo']} | {cells['oracle']} | {'pass' if ok else 'FAIL'} ({rule}) |"
        )
        if "memoryless" in references:
            lines.append(f"|  | memoryless: {references['memoryless'].description} |||||||")
    return lines, all_pass


def _seeds(values: list[float]) -> str:
    seeds = f"{len(values)} seed" + "s" * (len(values) != 1)
    return f"{seeds}: " + ", ".join(f"{v:.1f}" for v in values)


def _bound_gate(
    values: dict[str, list[float]], references: dict[str, Reference]
) -> tuple[dict[str, str], bool]:
    """Each preset against 95% of the bound it is held to: (cells, passed)."""
    cells, verdicts = {}, []
    for preset, reference_name in HELD_TO.items():
        if preset not in values:
            cells[preset] = "not run"
            verdicts.append(False)
            continue
        mean, reference = float(np.mean(values[preset])), references[reference_name].mean
        verdicts.append(passes(mean, reference))
        # A ratio to a negative reference reads backwards (-3.4 / -2.9 = 1.16): give
        # the difference there instead.
        versus = f"{mean / reference:.2f}" if reference > 0 else f"{mean - reference:+.2f}"
        cells[preset] = f"{mean:.2f} ({versus}; {_seeds(values[preset])})"
    return cells, all(verdicts)


def _band_gate(values: dict[str, list[float]], random: float) -> tuple[dict[str, str], bool]:
    """``oracle`` clearly above ``markov_ppo``, clearly above ``random``: (cells, passed)."""
    cells = {}
    for preset in HELD_TO:
        if preset in values:
            mean, std = band(values[preset])
            cells[preset] = f"{mean:.2f} ± {std:.2f} ({_seeds(values[preset])})"
        else:
            cells[preset] = "not run"
    if "oracle" not in values or "markov_ppo" not in values:
        return cells, False
    ok = clearly_above(values["markov_ppo"], [random]) and clearly_above(
        values["oracle"], values["markov_ppo"]
    )
    return cells, ok


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
