"""``EpsilonRandomActions``: exploration noise for a behaviour policy (docs/offline.md)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.utils.typing import EpisodeType


class EpsilonRandomActions(ConnectorV2):
    """Module-to-env piece: with probability ``epsilon`` replace an action by a uniformly
    random one.

    RLlib runs custom module-to-env pieces after the actions are sampled and before
    they are unsquashed for the env, so a ``Box`` action is drawn from ``[-1, 1]`` (the
    module's range) when ``normalize_actions`` is on, else from the action space.

    Args:
        epsilon: probability of a random action at each step.
        normalize_actions: the config's ``normalize_actions`` (``Box`` actions only).
        seed: seed of the piece's random generator (None: random).
    """

    def __init__(
        self,
        input_observation_space: gym.Space | None = None,
        input_action_space: gym.Space | None = None,
        *,
        epsilon: float,
        normalize_actions: bool = True,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(input_observation_space, input_action_space, **kwargs)
        self.epsilon = float(epsilon)
        self.normalize_actions = bool(normalize_actions)
        self._rng = np.random.default_rng(seed)

    def _random_action(self, action: Any) -> Any:
        space = self.action_space
        if isinstance(space, gym.spaces.Discrete):
            return np.asarray(self._rng.integers(space.n), dtype=np.asarray(action).dtype)
        low, high = (-1.0, 1.0) if self.normalize_actions else (space.low, space.high)
        return self._rng.uniform(low, high, size=space.shape).astype(space.dtype)

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
        if self.epsilon <= 0.0 or Columns.ACTIONS not in batch:
            return batch

        def maybe_replace(action: Any, *args: Any) -> Any:
            if self._rng.random() < self.epsilon:
                return self._random_action(action)
            return action

        self.foreach_batch_item_change_in_place(batch, Columns.ACTIONS, maybe_replace)
        return batch
