"""How closely trained HalfCheetahVel policies run at their target velocity
(``rllib-dynamite diagnose velocity``).

Each trial's final checkpoint plays the same greedy episodes (``Evaluator``, seeded);
for every episode this takes the time-averaged target velocity and the cheetah's
time-averaged forward velocity (``qvel[0]``, observation index 8), and reports per trial
the mean return, the least-squares slope of velocity on target (1: it runs as fast as
asked on average), the fastest episode's mean velocity, and the mean return over the
episodes of the lowest, middle and highest third of targets.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rllib_dynamite.analysis.playback import TrialRow, play_trials, print_rows
from rllib_dynamite.evaluation import EpisodeRecord, EvaluationReport, Evaluator
from rllib_dynamite.trials import Trial

ENV = "rllib_dynamite/HalfCheetahVel-v0"
FORWARD_VELOCITY = 8  # HalfCheetah-v5's observation: qpos[1:] (8), then qvel[0]
COLUMNS = ["return", "slope", "fastest", "return_low", "return_mid", "return_high"]


def tracking(episodes: list[EpisodeRecord]) -> dict[str, float]:
    """The row of one policy's HalfCheetahVel ``episodes`` (module docstring)."""
    targets = np.array([e.latents[:, 0].mean() for e in episodes])
    velocities = np.array([e.states[1:, FORWARD_VELOCITY].mean() for e in episodes])
    returns = np.array([e.episode_return for e in episodes])
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


def print_velocity_tracking(
    results: Iterable[str | Path], episodes: int = 25, seed: int = 0
) -> list[TrialRow]:
    """Print :func:`tracking`'s row for every HalfCheetahVel trial under ``results``, on
    ``episodes`` greedy episodes seeded by ``seed``; trials of other envs are left out."""

    def measure(_: Trial, __: Evaluator, report: EvaluationReport) -> dict[str, float]:
        return tracking(report.episodes)

    rows = play_trials(results, measure, episodes, seed, keep=lambda trial: trial.env == ENV)
    return print_rows(rows, COLUMNS, lambda value: f"{value:.2f}")
