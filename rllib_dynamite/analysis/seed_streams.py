"""Do trials of different seeds meet independent tasks? For any ``rllib-dynamite tune``
results (``rllib-dynamite diagnose seed-streams``).

Each trial's training return (``env_runners/episode_return_mean``, one value per
iteration) is detrended (minus its centred 15-iteration rolling mean), and every pair of
trials is correlated over their common first iterations. Trials of one seed share their
env streams by design (every preset of a seed meets the same tasks), so their pairs
correlate strongly; trials of different seeds should not, unless their envs draw the same
latents, session boundaries and initial states. ``env_seeds``
(``rllib_dynamite/env_runner.py``) gives each env its own stream; RLlib's
``seed + worker_index`` plus gymnasium's ``+ k`` for the k-th env would make seeds 0 and
1 share 15 of 16 env streams.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

import numpy as np

from rllib_dynamite.study_files import load_trials
from rllib_dynamite.trials import SEED_KEY, TRAINING_RETURN, Trial

WINDOW = 15  # iterations of the rolling mean the returns are detrended by


def detrended(trial: Trial, iterations: int | None) -> np.ndarray:
    """The trial's per-iteration training return minus its rolling mean."""
    returns = trial.progress[TRAINING_RETURN].iloc[:iterations]
    trend = returns.rolling(WINDOW, center=True, min_periods=1).mean()
    return (returns - trend).to_numpy(float)


def pair_correlations(
    trials: list[Trial], iterations: int | None
) -> tuple[list[float], list[float]]:
    """Correlations of the detrended returns of trial pairs: (same seed, different seeds)."""
    series = [detrended(t, iterations) for t in trials]
    same, different = [], []
    for (i, a), (j, b) in combinations(enumerate(series), 2):
        n = min(len(a), len(b))
        finite = np.isfinite(a[:n]) & np.isfinite(b[:n])  # iterations with no episode: NaN
        if finite.sum() < 3:
            continue
        value = float(np.corrcoef(a[:n][finite], b[:n][finite])[0, 1])
        seeds_match = trials[i].config.get(SEED_KEY) == trials[j].config.get(SEED_KEY)
        (same if seeds_match else different).append(value)
    return same, different


def describe(values: list[float]) -> str:
    """``3 pairs, median +0.02 [-0.10, +0.12]``."""
    if not values:
        return "no pairs"
    return (
        f"{len(values)} pairs, median {np.median(values):+.2f} "
        f"[{min(values):+.2f}, {max(values):+.2f}]"
    )


def print_seed_streams(
    results: Iterable[str | Path], iterations: int | None = None
) -> tuple[list[float], list[float]]:
    """Print the pair correlations of every trial under ``results`` with a training
    return, over the first ``iterations`` iterations (all: None); return them.

    Raises:
        ValueError: ``iterations`` below 3, or fewer than two trials with a return.
        FileNotFoundError: a missing directory, or no trial under them.
    """
    if iterations is not None and iterations < 3:
        raise ValueError(f"--iterations must be at least 3, got {iterations}")
    trials = [t for t in load_trials(results) if TRAINING_RETURN in t.progress]
    if len(trials) < 2:
        raise ValueError(f"need two trials with a training return, found {len(trials)}")
    same, different = pair_correlations(trials, iterations)
    print(f"{len(trials)} trials, detrended training return per iteration, correlation of pairs:")
    print(f"  same seed:       {describe(same)}")
    print(f"  different seeds: {describe(different)}")
    return same, different
