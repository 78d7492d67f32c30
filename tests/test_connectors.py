"""Connector pieces on a real EnvRunner: what the module and the learner read."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rllib_dynamite.config import make_config
from rllib_dynamite.env_runner import FreshEpisodesEnvRunner


@pytest.mark.parametrize("env", ["rllib_dynamite/GridNavi-v0", "rllib_dynamite/HalfCheetahVel-v0"])
def test_observations_carry_the_previous_action_and_reward(env):
    """Each episode stores ``[s_t, a_{t-1}, r_t]`` (one-hot ``a`` for a Discrete space),
    float32, with zeros for the action and reward at ``t = 0``."""
    config = make_config(env, "dynamite", num_env_runners=0, num_envs_per_env_runner=2, seed=0)
    runner = FreshEpisodesEnvRunner(config=config)
    try:
        action_space = runner.env.single_action_space
        episodes = runner.sample()
    finally:
        runner.stop()
    for episode in episodes:
        obs = np.asarray(episode.get_observations())
        rewards = np.asarray(episode.get_rewards(), np.float32)
        actions = np.asarray(episode.get_actions())
        if isinstance(action_space, gym.spaces.Discrete):
            actions = np.eye(action_space.n)[actions]
        actions = actions.astype(np.float32).reshape(len(rewards), -1)
        prev_action, prev_reward = obs[:, -1 - actions.shape[1] : -1], obs[:, -1]
        assert obs.dtype == np.float32
        assert not prev_action[0].any() and prev_reward[0] == 0.0
        np.testing.assert_array_equal(prev_action[1:], actions)
        np.testing.assert_array_equal(prev_reward[1:], rewards)


def test_episode_flags_as_arrays_leave_the_learner_batch_unchanged(ray_local):
    """BatchEpisodeFlags only changes how RLlib zero-pads three columns, not the batch."""
    import copy

    import torch
    from ray.rllib.core.learner.training_data import TrainingData

    from rllib_dynamite.connectors import BatchEpisodeFlags

    config = make_config(
        "rllib_dynamite/GridNavi-v0", "dynamite", num_env_runners=0, num_envs_per_env_runner=3
    )
    algo = config.build_algo()
    try:
        learner = algo.learner_group._learner
        episodes = algo.env_runner.sample()
        # Episodes of different lengths: one cut short, so padding happens.
        episodes[0] = episodes[0].slice(slice(0, 7))

        def batch() -> dict:
            data = TrainingData(episodes=copy.deepcopy(episodes))
            return learner._make_batch_if_necessary(data).policy_batches["default_policy"]

        with_arrays = batch()
        learner._learner_connector.remove(BatchEpisodeFlags.__name__)
        with_lists = batch()
    finally:
        algo.stop()
    assert set(with_arrays) == set(with_lists)
    for column in BatchEpisodeFlags.COLUMNS:
        assert with_arrays[column].dtype == with_lists[column].dtype, column
    for column in with_lists:
        torch.testing.assert_close(with_arrays[column], with_lists[column], rtol=0, atol=0)
