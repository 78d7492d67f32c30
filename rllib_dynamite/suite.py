"""The development suite: small DLCMDPs that no built-in default was tuned on.

The generic defaults (:func:`rllib_dynamite.env_defaults.space_defaults`, the settings an
env without a built-in table gets) are chosen and checked on these tasks, so that a
user's own env learns with them (docs/method.md §9, "Generic defaults"). They are not
registered as built-in envs; name them as ``rllib_dynamite.suite:SetPointTracker`` and so
on, as a user names their own env. Each offers scripted references through the
``scripted_policies()`` hook that ``rllib-dynamite calibrate`` reads
(docs/custom_envs.md, "Will it learn?"):

- :class:`SetPointTracker`: move a point on a line to a hidden set-point that jumps to
  a new place between sessions; continuous action. The reward, the distance to the
  set-point, says how far but not which way: a policy must infer the side.
- :class:`MovingGoal2D`: a 2-D point mass reaching a hidden goal on a circle whose angle
  moves between sessions; continuous actions.
- :class:`DriftingBandit`: one of four actions pays (with noise); which one drifts to a
  neighbour between sessions; discrete actions.

Each task is seconds to step through 100k times, so a preset trains on it to 300k env
steps in a few minutes on 2 CPUs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from rllib_dynamite.envs.dlcmdp import DLCMDPEnv

ScriptedPolicy = Callable[[gym.Env, np.ndarray], Any]


class SuiteTask(DLCMDPEnv):
    """A suite task: the session arguments with the suite's defaults (sessions of 20
    steps on average, episodes of 60), then :meth:`_build` sets the spaces and state."""

    def __init__(
        self,
        p: float = 0.05,
        H: int = 60,
        latent_transition: str = "structured",
        oracle: bool = False,
    ) -> None:
        super().__init__(p, H, latent_transition, oracle)
        self._build()
        self._finish_spaces()

    def _build(self) -> None:
        """Set ``observation_space``, ``action_space``, ``latent_space`` and the state."""
        raise NotImplementedError


class SetPointTracker(SuiteTask):
    """A point ``x`` on [-2, 2] under first-order dynamics ``x' = x + gain · a``
    (``a`` in [-1, 1]); reward ``-|x - m|`` for a hidden set-point ``m`` in [-1.5, 1.5].
    At a session end ``m`` jumps to a fresh uniform draw. Observation: ``[x]``."""

    RANGE = 1.5
    GAIN = 0.25

    def _build(self) -> None:
        self.observation_space = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.latent_space = gym.spaces.Box(-self.RANGE, self.RANGE, (1,), np.float32)
        self._x = 0.0

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(-self.RANGE, self.RANGE)], dtype=np.float32)

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        return self.sample_latent(rng)

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        self._x = 0.0
        return np.array([self._x], dtype=np.float32)

    def _step_task(self, action: Any) -> tuple[np.ndarray, float, bool, dict]:
        push = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        self._x = float(np.clip(self._x + self.GAIN * push, -2.0, 2.0))
        reward = -abs(self._x - float(self.latent[0]))
        return np.array([self._x], dtype=np.float32), reward, False, {}

    def scripted_policies(self) -> dict[str, Any]:
        """Hold one point (the best of five) without the set-point; with it, a
        proportional controller that reaches it in as few steps as the gain allows; with
        only the rewards, :class:`ProbeAndTrack`."""

        def hold(point: float) -> ScriptedPolicy:
            return lambda env, obs: _towards(float(obs[0]), point, self.GAIN)

        def oracle(env: gym.Env, obs: np.ndarray) -> np.ndarray:
            return _towards(float(obs[0]), float(env.unwrapped.latent[0]), self.GAIN)

        return {
            "memoryless": {f"hold x = {x:+.2f}": hold(x) for x in (-0.75, -0.25, 0.0, 0.25, 0.75)},
            "oracle": ("drive x to the true set-point (proportional)", oracle),
            "belief": ("infer the set-point from the rewards, then track it", ProbeAndTrack()),
            "bound": False,
        }


class ProbeAndTrack:
    """:class:`SetPointTracker` without the set-point, from the rewards alone: a reward
    ``-d`` at ``x`` leaves two candidates, ``x ± d``; the policy drives towards one, and
    the next reward keeps the candidate it agrees with. A reward that agrees with
    neither (the set-point jumped) starts again from the new pair. What a belief preset
    could reach on the task by acting on its belief (a yardstick, not a bound: a
    Bayes-optimal policy could probe more cleverly)."""

    TOLERANCE = 1e-3

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._candidates: list[float] = []

    def observe(self, obs: np.ndarray, reward: float) -> None:
        x, distance = float(obs[0]), -reward
        new = [c for c in (x - distance, x + distance) if abs(c) <= SetPointTracker.RANGE + 1e-6]
        kept = [c for c in new if any(abs(c - old) < self.TOLERANCE for old in self._candidates)]
        self._candidates = kept or new

    def __call__(self, env: gym.Env, obs: np.ndarray) -> np.ndarray:
        x = float(obs[0])
        if not self._candidates:  # nothing seen yet: any move tells something
            return np.array([1.0], dtype=np.float32)
        target = min(self._candidates, key=lambda c: (abs(c - x), c))
        return _towards(x, target, SetPointTracker.GAIN)


class MovingGoal2D(SuiteTask):
    """A point mass in [-1, 1]² moved by velocity actions ``pos' = pos + 0.1 · a``
    (``a`` in [-1, 1]²); reward ``-‖pos - goal‖``. The goal lies on a circle of radius
    0.8 at a hidden angle ``m``; at a session end the angle moves by a normal step of std
    π/2. Observation: ``pos``."""

    RADIUS = 0.8
    SPEED = 0.1
    ANGLE_STEP = np.pi / 2

    def _build(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        # The latent is the goal's position (cos, sin scaled), so that nearby goals are
        # nearby latents.
        self.latent_space = gym.spaces.Box(-self.RADIUS, self.RADIUS, (2,), np.float32)
        self._pos = np.zeros(2)

    def _goal(self, angle: float) -> np.ndarray:
        return (self.RADIUS * np.array([np.cos(angle), np.sin(angle)])).astype(np.float32)

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return self._goal(rng.uniform(-np.pi, np.pi))

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        angle = float(np.arctan2(latent[1], latent[0]))
        return self._goal(angle + rng.normal(0.0, self.ANGLE_STEP))

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        self._pos = np.zeros(2)
        return self._pos.astype(np.float32)

    def _step_task(self, action: Any) -> tuple[np.ndarray, float, bool, dict]:
        push = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        self._pos = np.clip(self._pos + self.SPEED * push, -1.0, 1.0)
        reward = -float(np.linalg.norm(self._pos - self.latent))
        return self._pos.astype(np.float32), reward, False, {}

    def scripted_policies(self) -> dict[str, Any]:
        """Stay at the centre (nearest every goal on the circle) without the goal; with
        it, head straight for the goal."""

        def oracle(env: gym.Env, obs: np.ndarray) -> np.ndarray:
            return _towards_2d(obs, env.unwrapped.latent, self.SPEED)

        def centre(env: gym.Env, obs: np.ndarray) -> np.ndarray:
            return _towards_2d(obs, np.zeros(2), self.SPEED)

        return {
            "memoryless": {"stay at the centre": centre},
            "oracle": ("head straight for the true goal", oracle),
            "bound": False,
        }


class DriftingBandit(SuiteTask):
    """Four arms; the hidden best arm ``m`` pays 1, the others 0, plus Gaussian noise of
    std 0.1. At a session end the best arm moves to a neighbour (``m ± 1`` mod 4).
    Observation: the fraction of the episode gone, ``[t / H]``."""

    ARMS = 4
    NOISE = 0.1

    def _build(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.ARMS)
        self.latent_space = gym.spaces.Box(0.0, self.ARMS - 1.0, (1,), np.float32)
        self._steps = 0

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.integers(self.ARMS)], dtype=np.float32)

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        step = 1 if rng.random() < 0.5 else -1
        return np.array([(int(latent[0]) + step) % self.ARMS], dtype=np.float32)

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        self._steps = 0
        return np.zeros(1, dtype=np.float32)

    def _step_task(self, action: Any) -> tuple[np.ndarray, float, bool, dict]:
        self._steps += 1
        pays = float(int(action) == int(self.latent[0]))
        reward = pays + float(self.np_random.normal(0.0, self.NOISE))
        return np.array([min(self._steps / self.H, 1.0)], dtype=np.float32), reward, False, {}

    def scripted_policies(self) -> dict[str, Any]:
        """Always pull one arm (every arm is the best one equally often) without the
        latent; with it, pull the best arm. Both are the best of their class."""
        return {
            "memoryless": {f"always pull arm {arm}": _constant(arm) for arm in range(self.ARMS)},
            "oracle": ("pull the true best arm", lambda env, obs: int(env.unwrapped.latent[0])),
            "bound": True,
        }


SUITE: dict[str, type[DLCMDPEnv]] = {
    "SetPointTracker": SetPointTracker,
    "MovingGoal2D": MovingGoal2D,
    "DriftingBandit": DriftingBandit,
}


def _towards(x: float, target: float, gain: float) -> np.ndarray:
    return np.array([np.clip((target - x) / gain, -1.0, 1.0)], dtype=np.float32)


def _towards_2d(pos: np.ndarray, target: np.ndarray, speed: float) -> np.ndarray:
    step = (np.asarray(target, dtype=np.float64) - np.asarray(pos[:2], dtype=np.float64)) / speed
    norm = np.linalg.norm(step)
    return (step / norm if norm > 1.0 else step).astype(np.float32)


def _constant(arm: int) -> ScriptedPolicy:
    return lambda env, obs: arm
