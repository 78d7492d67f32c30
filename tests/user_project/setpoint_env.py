"""A user's own env, written outside the package: a 1-D point held at a hidden set-point.

The tests train it the ways a user would (tests/test_custom_envs.py, and the cluster
test with this file shipped by Ray's ``runtime_env``). Importing the module registers
``my_project/SetPoint-v0`` with gymnasium and Ray Tune, as docs/custom_envs.md shows.

- :func:`make_setpoint`: the task wrapped with ``DLCMDPWrapper``; the set-point drifts
  at every session end. Its latent functions return a Python float and a list, which
  the wrapper converts to the latent space.
- :class:`UnlabelledSetPoint`: the same drift inside a plain gymnasium env, without the
  session labels in ``info``.
- :class:`Corridor`: a DLCMDP with a ``Discrete`` observation and action.

``trace_dir``: where each env instance in a Ray process keeps, from its first step, one
file ``<node id>-<pid>-<instance>`` holding ``<steps taken> <this module's path>``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import ray
from ray.tune import register_env

from rllib_dynamite.envs import DLCMDPEnv, DLCMDPWrapper

SET_POINT_RANGE = 1.0
DRIFT = 0.5


class SetPointTask(gym.Env):
    """Move a point on [-2, 2] (action: a push in [-0.2, 0.2]) to a set-point it cannot
    see; reward -|position - set_point|."""

    def __init__(self, trace_dir: str | None = None) -> None:
        self.observation_space = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-0.2, 0.2, shape=(1,), dtype=np.float32)
        self.set_point = 0.0
        self._position = 0.0
        self._trace = _Trace(trace_dir)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self._position = 0.0
        return np.array([self._position], dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple:
        self._trace.step()
        push = float(np.clip(action[0], -0.2, 0.2))
        self._position = float(np.clip(self._position + push, -2.0, 2.0))
        reward = -abs(self._position - self.set_point)
        return np.array([self._position], dtype=np.float32), reward, False, False, {}


def make_setpoint(
    p: float = 0.2,
    H: int = 20,
    latent_transition: str = "structured",
    oracle: bool = False,
    trace_dir: str | None = None,
) -> DLCMDPWrapper:
    """SetPointTask as a DLCMDP: the latent, shape (1,), is the set-point."""

    def apply_set_point(env: SetPointTask, latent: np.ndarray) -> None:
        env.set_point = float(latent[0])

    return DLCMDPWrapper(
        SetPointTask(trace_dir),
        sample_latent=lambda rng: float(rng.uniform(-SET_POINT_RANGE, SET_POINT_RANGE)),
        transition_latent=lambda latent, rng: [_drift(float(latent[0]), rng)],
        apply_latent=apply_set_point,
        latent_space=gym.spaces.Box(-SET_POINT_RANGE, SET_POINT_RANGE, (1,), np.float32),
        p=p,
        H=H,
        latent_transition=latent_transition,
        oracle=oracle,
    )


class UnlabelledSetPoint(SetPointTask):
    """The drifting set-point without session labels: a plain env with a horizon ``H``."""

    def __init__(self, p: float = 0.2, H: int = 20) -> None:
        super().__init__()
        self.p, self.H = p, H
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        self._t = 0
        obs, info = super().reset(seed=seed)
        self.set_point = float(self.np_random.uniform(-SET_POINT_RANGE, SET_POINT_RANGE))
        return obs, info

    def step(self, action: np.ndarray) -> tuple:
        obs, reward, terminated, _, info = super().step(action)
        self._t += 1
        if self.np_random.random() < self.p:
            self.set_point = _drift(self.set_point, self.np_random)
        return obs, reward, terminated, self._t >= self.H, info


class Corridor(DLCMDPEnv):
    """Five cells, a hidden goal cell; observation and action (left, stay, right) are
    ``Discrete``. Reward 1 on the goal. The goal moves to a random cell at a session end."""

    def __init__(self, p: float = 0.2, H: int = 12) -> None:
        super().__init__(p, H)
        self.observation_space = gym.spaces.Discrete(5)
        self.action_space = gym.spaces.Discrete(3)
        self.latent_space = gym.spaces.Box(0.0, 4.0, shape=(1,), dtype=np.float32)
        self._task_observation_space = self.observation_space
        self._cell = 2

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.integers(5)], dtype=np.float32)

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        return self.sample_latent(rng)

    def _reset_task(self, rng: np.random.Generator) -> Any:
        self._cell = 2
        return self._cell

    def _step_task(self, action: Any) -> tuple[Any, float, bool, dict]:
        self._cell = int(np.clip(self._cell + int(action) - 1, 0, 4))
        return self._cell, float(self._cell == int(self.latent[0])), False, {}


def _drift(set_point: float, rng: np.random.Generator) -> float:
    return float(np.clip(set_point + rng.normal(0.0, DRIFT), -SET_POINT_RANGE, SET_POINT_RANGE))


class _Trace:
    """Where an env instance's steps were taken (see the module docstring)."""

    def __init__(self, trace_dir: str | None) -> None:
        self.directory = Path(trace_dir) if trace_dir else None
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.directory is None or not ray.is_initialized():
            return
        node_id = ray.get_runtime_context().get_node_id()
        path = self.directory / f"{node_id}-{os.getpid()}-{id(self)}"
        path.write_text(f"{self.steps} {__file__}\n")


gym.register(id="my_project/SetPoint-v0", entry_point=make_setpoint)
register_env("my_project/SetPoint-v0", lambda env_config: make_setpoint(**env_config))
