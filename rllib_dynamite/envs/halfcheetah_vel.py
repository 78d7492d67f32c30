"""HalfCheetahVel: gymnasium's HalfCheetah-v5 running at a hidden target velocity.

docs/method.md §6 (VariBAD's HalfCheetahVel). The latent is the target forward velocity;
it jumps between sessions, so the agent must notice from rewards that the pace changed.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

from rllib_dynamite.envs.dlcmdp import DLCMDPEnv

MAX_VELOCITY = 3.0  # m/s; target velocities lie in [0, MAX_VELOCITY]
CTRL_COST_WEIGHT = 0.05  # VariBAD's control cost weight
STRUCTURED_JUMP = (0.5, 1.5)  # m/s, range of |Δv| at a session end
RENDER_SIZE = 256  # px


class HalfCheetahVel(DLCMDPEnv):
    """Planar cheetah; the latent is the target velocity in m/s, shape ``(1,)``.

    Observation, shape ``(17,)``: HalfCheetah-v5's (joint positions without the root's
    x, then joint velocities). Reward: ``−|v_x − v_goal| − 0.05·‖a‖²`` with ``v_x`` the
    root's forward velocity over the step (HalfCheetah-v5's ``info["x_velocity"]``).

    Args:
        p: session switch probability (default 0.015).
        H: horizon (default 200).
        latent_transition: ``"structured"``: the target jumps by ``±U(0.5, 1.5)`` m/s
            (sign uniform), clipped to ``[0, 3]``; or ``"uniform"``: a fresh ``U(0, 3)``.
        oracle: append the target velocity to the observation.
        render_mode: ``None`` or ``"rgb_array"`` (rendered by the MuJoCo base env).
    """

    def __init__(
        self,
        p: float = 0.015,
        H: int = 200,
        latent_transition: str = "structured",
        oracle: bool = False,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(p, H, latent_transition, oracle, render_mode)
        # The base env computes our control term; we replace its forward term.
        self._base = HalfCheetahEnv(
            ctrl_cost_weight=CTRL_COST_WEIGHT,
            render_mode=render_mode,
            width=RENDER_SIZE,
            height=RENDER_SIZE,
        )
        self.metadata = {**self.metadata, "render_fps": self._base.metadata["render_fps"]}
        self._target_velocity = 0.0
        shape = self._base.observation_space.shape
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float32)
        self.action_space = self._base.action_space
        self.latent_space = gym.spaces.Box(0.0, MAX_VELOCITY, shape=(1,), dtype=np.float32)
        self._finish_spaces()

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(0.0, MAX_VELOCITY)], dtype=np.float32)

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        sign = 1.0 if rng.random() < 0.5 else -1.0
        jump = sign * rng.uniform(*STRUCTURED_JUMP)
        return np.array([np.clip(float(latent[0]) + jump, 0.0, MAX_VELOCITY)], dtype=np.float32)

    def _on_latent_change(self) -> None:
        self._target_velocity = float(self._latent[0])

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        obs, _ = self._base.reset(seed=int(rng.integers(2**31 - 1)))
        return obs

    def _step_task(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict]:
        obs, _, _, _, info = self._base.step(action)
        reward_forward = -abs(info["x_velocity"] - self._target_velocity)
        info["reward_forward"] = reward_forward
        return obs, reward_forward + info["reward_ctrl"], False, info

    def render(self) -> np.ndarray | None:
        """An ``(RENDER_SIZE, RENDER_SIZE, 3)`` uint8 frame, or ``None`` without rgb_array."""
        if self.render_mode != "rgb_array":
            return None
        return self._base.render()

    def close(self) -> None:
        self._base.close()
