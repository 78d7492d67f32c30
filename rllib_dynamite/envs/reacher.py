"""Reacher: gymnasium's Reacher-v5 arm chasing a hidden target that moves between sessions.

docs/method.md §6. The latent is the target's angle on a circle of radius 0.15 m. The
target is drawn in the scene (its slide joints follow the latent) but it is removed from
the observation, so the agent can only infer it from rewards.
"""

from __future__ import annotations

import math

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv

from rllib_dynamite.envs.dlcmdp import DLCMDPEnv

TARGET_RADIUS = 0.15  # m
CTRL_COST_WEIGHT = 0.1  # Reacher-v5's documented ``reward_control_weight``
STRUCTURED_TURN = math.pi / 2  # rad, mean angle change at a session end
STRUCTURED_TURN_STD = 0.1  # rad
RENDER_SIZE = 256  # px


def wrap_angle(angle: float) -> float:
    """Map an angle in radians to ``[-π, π)``."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


class Reacher(DLCMDPEnv):
    """Two-joint arm; the latent is the hidden target's angle, shape ``(1,)`` in rad.

    Observation, shape ``(8,)``: ``cos`` and ``sin`` of the two joint angles, the two
    joint velocities (rad/s) and the fingertip's ``(x, y)`` (m). Reacher-v5's target
    position and fingertip-minus-target entries are dropped.
    Reward: ``−‖fingertip − target‖ − 0.1·‖a‖²`` (Reacher-v5's terms, distance in m).

    Args:
        p: session switch probability (default 0.02).
        H: horizon (default 200).
        latent_transition: ``"structured"``: the angle turns by ``π/2 + N(0, 0.1²)``
            (wrapped to ``[-π, π)``); or ``"uniform"``: a fresh uniform angle.
        oracle: append the target angle to the observation.
        render_mode: ``None`` or ``"rgb_array"`` (rendered by the MuJoCo base env).
    """

    def __init__(
        self,
        p: float = 0.02,
        H: int = 200,
        latent_transition: str = "structured",
        oracle: bool = False,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(p, H, latent_transition, oracle, render_mode)
        self._base = ReacherEnv(
            reward_control_weight=CTRL_COST_WEIGHT,
            render_mode=render_mode,
            width=RENDER_SIZE,
            height=RENDER_SIZE,
        )
        self.metadata = {**self.metadata, "render_fps": self._base.metadata["render_fps"]}
        self._model = self._base.model
        self._data = self._base.data
        self._fingertip_id = self._model.body("fingertip").id
        target_x = self._model.joint("target_x")
        target_y = self._model.joint("target_y")
        self._target_qpos = (int(target_x.qposadr[0]), int(target_y.qposadr[0]))
        self._target_qvel = (int(target_x.dofadr[0]), int(target_y.dofadr[0]))
        self._target_xy = (TARGET_RADIUS, 0.0)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(8,), dtype=np.float32)
        self.action_space = self._base.action_space
        self.latent_space = gym.spaces.Box(-math.pi, math.pi, shape=(1,), dtype=np.float32)
        self._finish_spaces()

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(-math.pi, math.pi)], dtype=np.float32)

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        turn = STRUCTURED_TURN + rng.normal(0.0, STRUCTURED_TURN_STD)
        return np.array([wrap_angle(float(latent[0]) + turn)], dtype=np.float32)

    def target_position(self) -> np.ndarray:
        """The target's ``(x, y)`` in m, shape ``(2,)``, from the current latent."""
        return np.array(self._target_xy)

    def _on_latent_change(self) -> None:
        angle = float(self._latent[0])
        self._target_xy = (TARGET_RADIUS * math.cos(angle), TARGET_RADIUS * math.sin(angle))
        qpos, qvel = self._data.qpos, self._data.qvel
        # reacher.xml places the target body at its slide joints' reference values, so
        # the joints' qpos is the target's world (x, y).
        qpos[self._target_qpos[0]], qpos[self._target_qpos[1]] = self._target_xy
        qvel[self._target_qvel[0]] = qvel[self._target_qvel[1]] = 0.0
        # Refresh body positions so renders and reward checks see the moved target.
        mujoco.mj_kinematics(self._model, self._data)

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        # Reacher-v5's own reset also draws a random target; _on_latent_change replaces it.
        self._base.reset(seed=int(rng.integers(2**31 - 1)))
        return self._task_observation()

    def _task_observation(self) -> np.ndarray:
        theta = self._data.qpos[:2]
        return np.concatenate(
            (
                np.cos(theta),
                np.sin(theta),
                self._data.qvel[:2],
                self._data.xpos[self._fingertip_id, :2],
            ),
            dtype=np.float32,
        )

    def _step_task(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict]:
        # Reacher-v5's step() without its observation (which shows the target): the
        # physics step, then the same reward terms against the hidden target.
        action = np.asarray(action)
        self._base.do_simulation(action, self._base.frame_skip)
        fingertip = self._data.xpos[self._fingertip_id]
        # Fingertip and target share z = 0.01 m, so the planar distance is the 3-D one.
        reward_dist = -math.hypot(
            fingertip[0] - self._target_xy[0], fingertip[1] - self._target_xy[1]
        )
        reward_ctrl = -CTRL_COST_WEIGHT * float(np.dot(action, action))
        info = {"reward_dist": reward_dist, "reward_ctrl": reward_ctrl}
        return self._task_observation(), reward_dist + reward_ctrl, False, info

    def render(self) -> np.ndarray | None:
        """An ``(RENDER_SIZE, RENDER_SIZE, 3)`` uint8 frame, or ``None`` without rgb_array."""
        if self.render_mode != "rgb_array":
            return None
        return self._base.render()

    def close(self) -> None:
        self._base.close()
