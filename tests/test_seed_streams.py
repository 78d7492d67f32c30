"""``diagnose seed-streams`` (analysis/seed_streams.py) tells trials that meet the same
tasks from independent ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rllib_dynamite.analysis.seed_streams import pair_correlations
from rllib_dynamite.trials import SEED_KEY, TRAINING_RETURN, Trial


def _trial(seed: int, returns: np.ndarray) -> Trial:
    progress = pd.DataFrame({TRAINING_RETURN: returns})
    return Trial(Path(f"t{seed}"), {SEED_KEY: seed}, progress, pd.DataFrame(), [])


def test_tasks_shared_by_one_seed_correlate_and_independent_seeds_do_not():
    rng = np.random.default_rng(0)
    trend = np.linspace(-300, -150, 200)
    tasks = {seed: rng.normal(0, 20, 200) for seed in (0, 1)}  # what a batch's tasks cost
    trials = [
        _trial(0, trend + tasks[0] + rng.normal(0, 5, 200)),  # two presets of seed 0
        _trial(0, trend + tasks[0] + rng.normal(0, 5, 200)),
        _trial(1, trend + tasks[1] + rng.normal(0, 5, 200)),
    ]
    same, different = pair_correlations(trials, iterations=None)
    assert len(same) == 1 and same[0] > 0.8
    assert len(different) == 2 and max(abs(c) for c in different) < 0.3


def test_iterations_without_an_episode_are_left_out():
    rng = np.random.default_rng(1)
    tasks = rng.normal(0, 20, 50)
    first, second = tasks + rng.normal(0, 5, 50), tasks + rng.normal(0, 5, 50)
    first[:3] = np.nan  # RLlib reports no return before an episode completes
    same, _ = pair_correlations([_trial(0, first), _trial(0, second)], iterations=None)
    assert len(same) == 1 and same[0] > 0.8
