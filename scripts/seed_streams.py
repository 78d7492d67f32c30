"""Do trials of different seeds meet independent tasks? For any ``rllib-dynamite tune`` results.

Each trial's training return (``env_runners/episode_return_mean``, one value per
iteration) is detrended (minus its centred 15-iteration rolling mean), and every pair of
trials is correlated over their common first iterations. Trials of one seed share their
env streams by design (every preset of a seed meets the same tasks), so their pairs
correlate strongly; trials of different seeds should not, unless their envs draw the same
latents, session boundaries and initial states. Before ``env_seeds``
(``rllib_dynamite/env_runner.py``) they did: RLlib's ``seed + worker_index`` plus
gymnasium's ``+ k`` for the k-th env made seeds 0 and 1 share 15 of 16 env streams.

    .venv/bin/python scripts/seed_streams.py results/halfcheetah_vel_long_local --iterations 40
"""

from __future__ import annotations

import argparse
from itertools import combinations
from pathlib import Path

import numpy as np

from rllib_dynamite.trials import SEED_KEY, TRAINING_RETURN, Trial, load_trials

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


def _describe(values: list[float]) -> str:
    if not values:
        return "no pairs"
    return (
        f"{len(values)} pairs, median {np.median(values):+.2f} "
        f"[{min(values):+.2f}, {max(values):+.2f}]"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="Tune results directories")
    parser.add_argument(
        "--iterations", type=int, default=None, help="only the first N iterations (default: all)"
    )
    args = parser.parse_args(argv)
    if args.iterations is not None and args.iterations < 3:
        raise ValueError(f"--iterations must be at least 3, got {args.iterations}")
    trials = [t for t in load_trials(args.results) if TRAINING_RETURN in t.progress]
    if len(trials) < 2:
        raise ValueError(f"need two trials with a training return, found {len(trials)}")
    same, different = pair_correlations(trials, args.iterations)
    print(f"{len(trials)} trials, detrended training return per iteration, correlation of pairs:")
    print(f"  same seed:       {_describe(same)}")
    print(f"  different seeds: {_describe(different)}")


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
