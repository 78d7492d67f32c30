"""A user's own DLCMDP env, for ``tune_configs/examples/line_goal.yaml``.

A point on [-1, 1] chases a goal it cannot see; at a session end the goal jumps to the
mirror image of where it was (docs/custom_envs.md, "Subclassing DLCMDPEnv"). Copy this
file and the YAML beside it as the start of your own experiment.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rllib_dynamite.envs import DLCMDPEnv


class LineGoal(DLCMDPEnv):
    """A point on [-1, 1] moving towards a hidden goal.

    Observation, shape (1,): the position. Action, shape (1,): a move in [-0.1, 0.1].
    Latent, shape (1,): the goal position. Reward: -|position - goal|.
    """

    def __init__(
        self,
        p: float = 0.05,
        H: int = 100,
        latent_transition: str = "structured",
        oracle: bool = False,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(p, H, latent_transition, oracle, render_mode)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-0.1, 0.1, shape=(1,), dtype=np.float32)
        self.latent_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._finish_spaces()
        self._position = 0.0

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(-1.0, 1.0)], dtype=np.float32)

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        mirrored = -latent[0] + rng.normal(0.0, 0.1)
        return np.array([np.clip(mirrored, -1.0, 1.0)], dtype=np.float32)

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        self._position = 0.0
        return np.array([self._position], dtype=np.float32)

    def _step_task(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict]:
        move = float(np.clip(action[0], -0.1, 0.1))
        self._position = float(np.clip(self._position + move, -1.0, 1.0))
        reward = -abs(self._position - float(self.latent[0]))
        return np.array([self._position], dtype=np.float32), reward, False, {}
