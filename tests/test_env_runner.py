"""Training batches of a seeded run meet fresh episodes, not a replay of the first batch."""

from __future__ import annotations

import numpy as np
import pytest
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

from rllib_dynamite.config import make_config
from rllib_dynamite.env_runner import FreshEpisodesEnvRunner, env_seeds

GRID = "rllib_dynamite/GridNavi-v0"


def _latent_sequences(episodes: list) -> list[np.ndarray]:
    return [np.stack([info["latent"] for info in e.get_infos()[1:]]) for e in episodes]


def _two_batches(
    runner_cls: type, seed: int = 3, worker_index: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    config = make_config(
        GRID, "markov_ppo", num_env_runners=0, num_envs_per_env_runner=4, seed=seed
    )
    config.env_runners(env_runner_cls=runner_cls)
    runner = runner_cls(config=config, worker_index=worker_index)
    try:
        return _latent_sequences(runner.sample()), _latent_sequences(runner.sample())
    finally:
        runner.stop()


def test_rllib_replays_the_seed_before_every_complete_episodes_batch():
    """What FreshEpisodesEnvRunner fixes: RLlib's own runner re-seeds every batch."""
    first, second = _two_batches(SingleAgentEnvRunner)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fresh_episodes_in_every_batch():
    first, second = _two_batches(FreshEpisodesEnvRunner)
    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    # Seeded all the same: a second runner with the same seed meets the same episodes.
    again, _ = _two_batches(FreshEpisodesEnvRunner)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def _shared(a: list[np.ndarray], b: list[np.ndarray]) -> int:
    return len({x.tobytes() for x in a} & {x.tobytes() for x in b})


def test_rllib_seeds_share_env_streams_between_trials_and_runners():
    """What env_seeds fixes: RLlib seeds a runner's k-th env with seed + worker index + k."""
    seed_0, _ = _two_batches(SingleAgentEnvRunner, seed=0)
    seed_1, _ = _two_batches(SingleAgentEnvRunner, seed=1)
    assert _shared(seed_0, seed_1) == 3  # seed 1's envs 0-2 are seed 0's envs 1-3


def test_no_env_stream_is_shared_between_trials_or_runners():
    seed_0, _ = _two_batches(FreshEpisodesEnvRunner, seed=0)
    seed_1, _ = _two_batches(FreshEpisodesEnvRunner, seed=1)
    runner_1, _ = _two_batches(FreshEpisodesEnvRunner, seed=0, worker_index=1)
    runner_2, _ = _two_batches(FreshEpisodesEnvRunner, seed=0, worker_index=2)
    assert len({x.tobytes() for x in seed_0}) == 4
    assert _shared(seed_0, seed_1) == _shared(runner_1, runner_2) == 0
    assert _shared(seed_1, runner_1) == 0  # seed + worker index no longer names the stream


def test_a_runner_built_without_a_worker_index_counts_as_the_local_one():
    config = make_config(GRID, "markov_ppo", num_env_runners=0, num_envs_per_env_runner=2, seed=0)
    runner = FreshEpisodesEnvRunner(config=config)
    try:
        assert runner._seed == env_seeds(0, 0, False, 2)
    finally:
        runner.stop()


def test_env_seeds_are_fixed_by_seed_runner_and_evaluation():
    assert env_seeds(0, 1, False, 4) == env_seeds(0, 1, False, 4)
    seeds = {
        s
        for args in [(0, 1, False), (1, 0, False), (0, 1, True), (-1, 1, False)]
        for s in env_seeds(*args, 4)
    }
    assert len(seeds) == 16


@pytest.mark.parametrize("preset", ["dynamite", "oracle"])
def test_every_preset_samples_with_it(preset):
    assert make_config(GRID, preset).env_runner_cls is FreshEpisodesEnvRunner
