"""Training batches of a seeded run meet fresh episodes, not a replay of the first batch."""

from __future__ import annotations

import numpy as np
import pytest
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

from rllib_dynamite.config import make_config
from rllib_dynamite.env_runner import FreshEpisodesEnvRunner

GRID = "rllib_dynamite/GridNavi-v0"


def _latent_sequences(episodes: list) -> list[np.ndarray]:
    return [np.stack([info["latent"] for info in e.get_infos()[1:]]) for e in episodes]


def _two_batches(runner_cls: type) -> tuple[list[np.ndarray], list[np.ndarray]]:
    config = make_config(GRID, "markov_ppo", num_env_runners=0, num_envs_per_env_runner=4, seed=3)
    config.env_runners(env_runner_cls=runner_cls)
    runner = runner_cls(config=config)
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


@pytest.mark.parametrize("preset", ["dynamite", "oracle"])
def test_every_preset_samples_with_it(preset):
    assert make_config(GRID, preset).env_runner_cls is FreshEpisodesEnvRunner
