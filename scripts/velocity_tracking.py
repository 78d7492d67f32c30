"""How closely trained HalfCheetahVel policies run at their target velocity.

Each trial's final checkpoint plays the same greedy episodes (``Evaluator``, seeded);
for every episode this takes the time-averaged target velocity and the cheetah's
time-averaged forward velocity (``qvel[0]``, observation index 8), and reports per trial
the mean return, the least-squares slope of velocity on target (1: it runs as fast as
asked on average), the fastest episode's mean velocity, and the mean return over the
episodes of the lowest, middle and highest third of targets.

    .venv/bin/python scripts/velocity_tracking.py results/halfcheetah_vel_p_sweep_local-seeds-0 \\
        --episodes 25
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.evaluation.checkpoints import find_checkpoint, trials_parser
from rllib_dynamite.trials import load_trials

ENV = "rllib_dynamite/HalfCheetahVel-v0"
FORWARD_VELOCITY = 8  # HalfCheetah-v5's observation: qpos[1:] (8), then qvel[0]


def tracking(checkpoint: Path, episodes: int, seed: int) -> dict[str, float]:
    evaluator = Evaluator.from_checkpoint(checkpoint, seed=seed)
    try:
        report = evaluator.evaluate(episodes, with_figure=False)
    finally:
        evaluator.stop()
    targets = np.array([e.latents[:, 0].mean() for e in report.episodes])
    velocities = np.array([e.states[1:, FORWARD_VELOCITY].mean() for e in report.episodes])
    returns = np.array([e.episode_return for e in report.episodes])
    slope = float(np.polyfit(targets, velocities, 1)[0])
    thirds = np.array_split(np.argsort(targets), 3)
    return {
        "return": float(returns.mean()),
        "slope": slope,
        "fastest": float(velocities.max()),
        **{
            f"return_{name}": float(returns[i].mean())
            for name, i in zip(("low", "mid", "high"), thirds, strict=True)
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = trials_parser(__doc__)
    args = parser.parse_args(argv)
    header = ["return", "slope", "fastest", "return_low", "return_mid", "return_high"]
    print(" | ".join(["trial", *header]))
    for trial in load_trials(args.results):
        if trial.env != ENV:
            continue
        try:
            checkpoint = find_checkpoint(trial.path)
        except FileNotFoundError as error:
            print(f"{trial.path.name} | skipped: {error}")
            continue
        row = tracking(checkpoint, args.episodes, args.seed)
        print(" | ".join([trial.path.name, *(f"{row[k]:.2f}" for k in header)]), flush=True)


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as error:  # a missing directory or checkpoint
        raise SystemExit(f"error: {error}") from None
