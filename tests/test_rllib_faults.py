"""The two RLlib faults of docs/rllib_faults.md still exist in the pinned Ray.

Each test runs a reproduction of ``docs/rllib_faults/`` (plain RLlib) and asserts the
fault. If one fails after a Ray upgrade, the fault is fixed upstream: its workaround in
``rllib_dynamite/env_runner.py`` can go, and docs/rllib_faults.md can say so.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from rllib_dynamite.env_runner import FreshEpisodesEnvRunner

REPRODUCTIONS = Path(__file__).resolve().parent.parent / "docs" / "rllib_faults"


def _load(name: str) -> ModuleType:
    """A reproduction (a script, not a package module) of ``docs/rllib_faults/``."""
    spec = importlib.util.spec_from_file_location(name, REPRODUCTIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reseed = _load("complete_episodes_reseed")
overlap = _load("seed_overlap")

RESEED_FIXED = (
    "RLlib no longer re-seeds its envs before every complete-episodes batch: the fault is "
    "fixed upstream, so FreshEpisodesEnvRunner.sample (rllib_dynamite/env_runner.py) can go"
)
OVERLAP_FIXED = (
    "RLlib's EnvRunners no longer share env seeds between trials and runners: the fault is "
    "fixed upstream, so FreshEpisodesEnvRunner.make_env and env_seeds "
    "(rllib_dynamite/env_runner.py) can go (which changes every seeded run's env streams)"
)


def test_rllib_replays_the_first_complete_episodes_batch_in_training(ray_local):
    first, second = reseed.training_batches(iterations=2)
    assert len(first) == reseed.NUM_ENVS
    assert second == first, RESEED_FIXED


def test_fresh_episodes_env_runner_trains_on_fresh_batches(ray_local):
    """The workaround through ``Algorithm.train()``; tests/test_env_runner.py has it per runner."""
    first, second = reseed.training_batches(iterations=2, env_runner_cls=FreshEpisodesEnvRunner)
    assert len(first) == len(second) == reseed.NUM_ENVS
    assert not set(first) & set(second)


def test_rllib_seeds_share_env_streams_between_trials_and_runners():
    seed_0_runner_1 = overlap.runner_streams(seed=0, worker_index=1)
    seed_0_runner_2 = overlap.runner_streams(seed=0, worker_index=2)
    seed_1_runner_1 = overlap.runner_streams(seed=1, worker_index=1)
    assert seed_0_runner_1[0] == (1, 2, 3, 4), OVERLAP_FIXED  # seed + worker index + k
    # Trial seed 0's EnvRunner 2 is trial seed 1's EnvRunner 1, env for env.
    assert seed_0_runner_2 == seed_1_runner_1, OVERLAP_FIXED
    # Sub-env k of seed 0 is sub-env k - 1 of seed 1, on the same EnvRunner.
    assert seed_0_runner_1[1][1:] == seed_1_runner_1[1][:-1], OVERLAP_FIXED
    # Two EnvRunners of one trial share all but one env stream.
    assert overlap.shared(seed_0_runner_1[1], seed_0_runner_2[1]) == overlap.NUM_ENVS - 1, (
        OVERLAP_FIXED
    )
    assert len(set(seed_0_runner_1[1])) == overlap.NUM_ENVS  # distinct streams per runner
