"""Connector pieces that move DynaMITE's data: the encoder's inputs on the way to the
module, and the session labels on the way to the learner (docs/method.md §2–§3)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.utils.spaces.space_utils import BatchedNdArray
from ray.rllib.utils.typing import EpisodeType

SESSION_ID = "session_id"
# Learner column: the detached belief ``[μ, log σ²]`` of every step of a training batch,
# computed once by AddBeliefToBatch (see ``DynamiteRLModule.caches_belief``).
BELIEF = "belief"


def feature_dim(space: gym.Space) -> int:
    """Size of an action or observation as the networks see it: one-hot for
    ``Discrete``, flat for ``Box``."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape))
    raise ValueError(f"a space must be Discrete or Box, got {space}")


class PrevActionRewardObservation(ConnectorV2):
    """Append the previous action and reward to the observation: ``[s_t, a_{t-1}, r_t]``.

    RLlib's ``PrevActionsPrevRewards`` only one-hots discrete actions and returns a
    dict; this piece handles ``Box`` actions too and keeps a flat ``Box`` observation,
    which it writes back into the episode so the learner sees the same inputs. At the
    first step the action and reward are zeros.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._one_hot: np.ndarray | None = None

    def recompute_output_observation_space(
        self, input_observation_space: gym.Space, input_action_space: gym.Space
    ) -> gym.Space:
        if not isinstance(input_observation_space, gym.spaces.Box):
            raise ValueError(f"observation space must be a Box, got {input_observation_space}")
        obs_low = input_observation_space.low.reshape(-1)
        obs_high = input_observation_space.high.reshape(-1)
        action_dim = feature_dim(input_action_space)
        if isinstance(input_action_space, gym.spaces.Discrete):
            action_low, action_high = np.zeros(action_dim), np.ones(action_dim)
        else:
            action_low = input_action_space.low.reshape(-1)
            action_high = input_action_space.high.reshape(-1)
        low = np.concatenate([obs_low, action_low, [-np.inf]]).astype(np.float32)
        high = np.concatenate([obs_high, action_high, [np.inf]]).astype(np.float32)
        return gym.spaces.Box(low, high, dtype=np.float32)

    def __call__(
        self,
        *,
        rl_module: RLModule,
        batch: dict[str, Any] | None,
        episodes: list[EpisodeType],
        explore: bool | None = None,
        shared_data: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        action_space = self.input_action_space
        if self._one_hot is None and isinstance(action_space, gym.spaces.Discrete):
            self._one_hot = np.eye(action_space.n, dtype=np.float32)
        size = self.observation_space.shape[0]
        obs_dim = size - feature_dim(action_space) - 1
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=True):
            # Filled in place (assignment casts to float32), with a cached one-hot table:
            # this runs for every env step, and np.concatenate of the pieces took twice as
            # long.
            augmented = np.empty(size, dtype=np.float32)
            augmented[:obs_dim] = np.reshape(episode.get_observations(-1), -1)
            if episode.t == 0:  # no action yet (a continued chunk reads its lookback)
                augmented[obs_dim:] = 0.0
            else:
                action = episode.get_actions(-1)
                augmented[obs_dim:-1] = (
                    self._one_hot[int(action)]
                    if self._one_hot is not None
                    else np.reshape(action, -1)
                )
                augmented[-1] = episode.get_rewards(-1)
            episode.set_observations(at_indices=-1, new_data=augmented)
            if episode.observation_space is not self.observation_space:  # once per episode
                episode.observation_space = self.observation_space
        return batch


class AddStepStateToBatch(ConnectorV2):
    """EnvRunner piece: each stepping episode's recurrent state, for a one-step forward
    pass without a time axis.

    RLlib's default pieces give a stateful module a time axis of length one on the way
    in (``AddTimeDimToBatchAndZeroPad``) and strip it per item on the way out
    (``RemoveSingleTsTimeRankFromBatch``); with a ``STATE_IN`` already in the batch both
    step aside, as does ``AddStatesFromEpisodesToBatch``, whose state choice this piece
    repeats: the module's initial state for an episode that has not stepped yet, else
    its last ``STATE_OUT``. :class:`~rllib_dynamite.rl_module.DynamiteRLModule` takes
    the ``[B, D]`` observations this leaves. Measured in ``benchmarks/throughput.py``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initial_state: Any = None

    def __call__(
        self,
        *,
        rl_module: RLModule,
        batch: dict[str, Any],
        episodes: list[EpisodeType],
        explore: bool | None = None,
        shared_data: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        if rl_module is None or Columns.STATE_IN in batch:
            return batch
        if self._initial_state is None:
            self._initial_state = rl_module.get_initial_state()
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=True):
            if (episode.t_started == 0 and len(episode) == 0) or (
                Columns.STATE_OUT not in episode.extra_model_outputs
            ):
                state = self._initial_state
            else:
                state = episode.get_extra_model_outputs(key=Columns.STATE_OUT, indices=-1)
            self.add_batch_item(batch, Columns.STATE_IN, state, single_agent_episode=episode)
        return batch


class BatchEpisodeFlags(ConnectorV2):
    """Learner piece, just after RLlib's ``AddOneTsToEpisodesAndTruncate``: its loss
    mask, terminateds and truncateds as one array per episode.

    That piece adds them as Python lists of ``H + 1`` bools per episode, and
    ``AddTimeDimToBatchAndZeroPad`` then zero-pads a list one item at a time (5–12% of
    a learner update under cProfile); an array takes its one-slice path. The batch is
    the same (docs/benchmarks.md).
    """

    COLUMNS = (Columns.LOSS_MASK, Columns.TERMINATEDS, Columns.TRUNCATEDS)

    def __call__(
        self,
        *,
        rl_module: RLModule,
        batch: dict[str, Any],
        episodes: list[EpisodeType],
        explore: bool | None = None,
        shared_data: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        for column in self.COLUMNS:
            for key, items in batch.get(column, {}).items():
                if items and all(isinstance(item, bool) for item in items):
                    batch[column][key] = [BatchedNdArray(np.asarray(items, dtype=bool))]
        return batch


class AddSessionIdsToBatch(ConnectorV2):
    """Learner piece: the session index σ(t) of every transition, from the env's ``info``.

    Row ``t`` of an episode holds transition ``x_t``, whose labels the env returned with
    ``s_{t+1}``, i.e. in ``infos[t + 1]``. Runs after PPO's extra bootstrap timestep has
    been appended, whose row repeats the last session id (it is masked out anyway).
    """

    def __call__(
        self,
        *,
        rl_module: RLModule,
        batch: dict[str, Any],
        episodes: list[EpisodeType],
        explore: bool | None = None,
        shared_data: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False):
            infos = episode.get_infos(slice(1, len(episode) + 1))
            try:
                session_ids = [info[SESSION_ID] for info in infos]
            except KeyError:
                raise ValueError(
                    f"the env's info has no {SESSION_ID!r}: DynaMITE needs a DLCMDP env "
                    "(see docs/custom_envs.md)"
                ) from None
            self.add_n_batch_items(
                batch, SESSION_ID, np.asarray(session_ids, np.int64), len(episode), episode
            )
        return batch


class AddBeliefToBatch(ConnectorV2):
    """Learner piece, just before GAE: the detached belief of every step of the batch.

    For a module whose ``caches_belief`` holds (the belief detached from the RL loss),
    one no-grad pass of the encoder over the whole batch puts the belief in column
    ``BELIEF``; GAE's value pass and every PPO minibatch then read it instead of running
    the GRU again (docs/benchmarks.md). Modules without the property are left alone.
    """

    def __call__(
        self,
        *,
        rl_module: RLModule,
        batch: dict[str, Any],
        episodes: list[EpisodeType],
        explore: bool | None = None,
        shared_data: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        for module_id, module_batch in batch.items():
            module = rl_module[module_id].unwrapped()
            if not getattr(module, "caches_belief", False):
                continue
            with torch.no_grad():
                module_batch[BELIEF] = module.belief(
                    module_batch[Columns.OBS], module_batch[Columns.STATE_IN]["h"]
                )
        return batch
