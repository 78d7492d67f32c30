"""Offline RL on the belief-relabelled dataset with RLlib's own offline learners
(method.md §5; docs/offline.md).

- Discrete actions (GridNavi): MARWIL, or BC (MARWIL with β = 0).
- Continuous actions: CQL or IQL (MARWIL and BC work too).

Each reads the relabelled Parquet through ``config.offline_data(input_=...)`` (Ray Data)
as flat transitions. RLlib's MARWIL recomputes its value targets with GAE inside the
data pipeline, from a copy of the module taken when the pipeline is built, i.e. from an
untrained critic, and on the one-step episodes that flat rows become. Our MARWIL
instead reads the targets from the data: each row's discounted return-to-go, written at
relabelling time (the Monte-Carlo returns of the original MARWIL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.algorithms.bc import BCConfig
from ray.rllib.algorithms.cql import CQLConfig
from ray.rllib.algorithms.iql import IQLConfig
from ray.rllib.algorithms.marwil import MARWILConfig
from ray.rllib.core.columns import Columns

from rllib_dynamite.config import mlp_model_config

VALUE_TARGETS = Columns.VALUE_TARGETS  # the relabelled data's return-to-go column


class DatasetReturnsMARWILConfig(MARWILConfig):
    """MARWIL whose value targets are the dataset's ``value_targets`` column (module
    docstring): RLlib's default learner pipeline adds that column to the train batch."""

    def build_learner_connector(
        self,
        input_observation_space: gym.Space,
        input_action_space: gym.Space,
        device: Any = None,
    ) -> Any:
        pipeline = super().build_learner_connector(
            input_observation_space, input_action_space, device=device
        )
        pipeline.remove("AddOneTsToEpisodesAndTruncate")
        pipeline.remove("GeneralAdvantageEstimation")
        return pipeline


def returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """[T] discounted returns ``Σ_k γ^k r_{t+k+1}`` to the episode's end."""
    returns = np.zeros(len(rewards), dtype=np.float32)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = float(rewards[t]) + gamma * running
        returns[t] = running
    return returns


def offline_rl_config(
    algorithm: str,
    data: Path,
    *,
    env: Any,
    env_config: dict[str, Any],
    observation_space: gym.Space,
    action_space: gym.Space,
    settings: Any,
    offline: Any,
) -> Any:
    """The RLlib config of ``algorithm`` on the relabelled Parquet under ``data``.

    ``env``/``env_config`` are what the policy is evaluated in (for belief presets a
    :class:`~rllib_dynamite.offline.belief_env.BeliefObservationEnv`); ``settings`` is
    the run's ``DynamiteSettings`` (policy network, γ, seed) and ``offline`` its
    ``OfflineSettings``. The config carries ``dynamite_settings`` for the evaluator.
    """
    if algorithm == "marwil":
        config = DatasetReturnsMARWILConfig().training(beta=offline.marwil_beta, lr=offline.rl_lr)
    elif algorithm == "bc":
        config = BCConfig().training(lr=offline.rl_lr)
    elif algorithm == "cql":
        # SAC-style learners take per-network rates (RLlib's defaults), and lr=None.
        config = CQLConfig().training(lr=None)
    elif algorithm == "iql":
        config = IQLConfig().training(lr=None)
    else:
        raise ValueError(f"unknown offline algorithm {algorithm!r}")
    config.environment(
        env=env,
        env_config=env_config,
        observation_space=observation_space,
        action_space=action_space,
    )
    config.training(gamma=settings.gamma, train_batch_size_per_learner=offline.rl_batch_size)
    if algorithm in ("marwil", "bc"):
        config.rl_module(model_config=mlp_model_config(settings))
    else:
        config.rl_module(model_config={"fcnet_hiddens": settings.policy_hiddens})
    config.offline_data(
        input_=[str(data)],
        # Ray 2.60's CQL hands a single batch on as an iterator unless it asked the data
        # for an iterator, which it does for more than one update per iteration.
        dataset_num_iters_per_learner=2 if algorithm == "cql" else 1,
        # One pre-learner actor: the machines this runs on are small.
        map_batches_kwargs={"concurrency": 1},
        iter_batches_kwargs={"prefetch_batches": 1},
    )
    config.env_runners(num_env_runners=0)
    config.learners(num_learners=0)
    config.evaluation(evaluation_interval=None)
    config.reporting(min_time_s_per_iteration=0)
    config.debugging(seed=settings.seed)
    config.dynamite_settings = settings
    return config
