"""The DLCMDP session process shared by every environment (docs/method.md §1).

An episode of horizon ``H`` is split into unobserved *sessions*. After every step a
session ends with probability ``p``; the latent context then moves through ``T_m``.
:class:`DLCMDPEnv` implements that process once: subclasses only say how a latent is
sampled, how it moves between sessions, and how one step of the task runs under it.
:class:`DLCMDPWrapper` turns any gymnasium env with a settable context into a DLCMDP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

LATENT_TRANSITIONS = ("structured", "uniform")


def validate_session_args(p: float, H: int, latent_transition: str) -> None:
    """Raise one clear ``ValueError`` for a bad session parameter."""
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"p must be a number in [0, 1] (switch probability), got {p!r}")
    if isinstance(H, bool) or not isinstance(H, int | np.integer) or H <= 0:
        raise ValueError(f"H must be a positive integer (episode horizon), got {H!r}")
    if latent_transition not in LATENT_TRANSITIONS:
        raise ValueError(
            f"latent_transition must be one of {list(LATENT_TRANSITIONS)}, "
            f"got {latent_transition!r}"
        )


class DLCMDPEnv(gym.Env):
    """Base class of a Dynamic Latent Contextual MDP.

    Subclasses set ``observation_space`` (without the latent), ``action_space`` and
    ``latent_space`` (a float ``Box``), and implement :meth:`sample_latent`,
    :meth:`transition_latent_structured`, :meth:`_reset_task` and :meth:`_step_task`.

    ``info`` at every step carries ``latent`` (the latent that produced this step),
    ``session_id`` (σ(t) of this step) and ``session_end`` (a session ended after it).
    The latent is never in the observation unless ``oracle=True``, which appends it.

    Args:
        p: probability that a session ends after each step.
        H: episode horizon; the episode is truncated after ``H`` steps.
        latent_transition: ``"structured"`` (the env's ``T_m``) or ``"uniform"``
            (a fresh draw from the initial latent distribution).
        oracle: append the true latent to the observation (Oracle baseline).
        render_mode: ``None`` or ``"rgb_array"``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    latent_space: gym.spaces.Box

    def __init__(
        self,
        p: float,
        H: int,
        latent_transition: str = "structured",
        oracle: bool = False,
        render_mode: str | None = None,
    ) -> None:
        validate_session_args(p, H, latent_transition)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.p = float(p)
        self.H = int(H)
        self.latent_transition = latent_transition
        self.oracle = bool(oracle)
        self.render_mode = render_mode
        self._latent: np.ndarray | None = None
        self._session_id = 0
        self._t = 0

    # -- what a task implements ---------------------------------------------------
    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        """Draw ``m ~ ν_m``, the initial latent distribution."""
        raise NotImplementedError

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Draw ``m' ~ T_m(· | m)`` for the structured latent transition."""
        raise NotImplementedError

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        """Reset the task's state (not the latent) and return the first observation."""
        raise NotImplementedError

    def _step_task(self, action: Any) -> tuple[np.ndarray, float, bool, dict]:
        """Run one step under ``self.latent``: ``(obs, reward, terminated, info)``."""
        raise NotImplementedError

    def _on_latent_change(self) -> None:
        """Hook for tasks that mirror the latent into their simulator (e.g. a marker)."""

    # -- the session process ------------------------------------------------------
    def _finish_spaces(self) -> None:
        """Widen the observation space by the latent when ``oracle=True``.

        Subclasses call this at the end of ``__init__`` once both spaces are set.
        """
        self._task_observation_space = self.observation_space
        if self.oracle:
            low = np.concatenate([self.observation_space.low, self.latent_space.low])
            high = np.concatenate([self.observation_space.high, self.latent_space.high])
            self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)

    @property
    def latent(self) -> np.ndarray:
        """The current latent context ``m_t`` (privileged: not in the observation)."""
        if self._latent is None:
            raise RuntimeError("call reset() before reading the latent")
        return self._latent

    def set_latent(self, latent: np.ndarray) -> None:
        """Set the current latent (tests, evaluation); checked against ``latent_space``."""
        latent = np.asarray(latent, dtype=np.float32)
        if latent.shape != self.latent_space.shape:
            raise ValueError(
                f"latent must have shape {self.latent_space.shape}, got {latent.shape}"
            )
        self._latent = latent
        self._on_latent_change()

    def _next_latent(self, latent: np.ndarray) -> np.ndarray:
        if self.latent_transition == "uniform":
            return self.sample_latent(self.np_random)
        return self.transition_latent_structured(latent, self.np_random)

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=self.observation_space.dtype)
        if isinstance(self.observation_space, gym.spaces.Discrete):
            return obs[()]  # a scalar, as gymnasium expects of a Discrete space
        if self.oracle:
            return np.concatenate([obs, self._latent]).astype(self.observation_space.dtype)
        return obs

    def _labels(self, session_end: bool) -> dict[str, Any]:
        return {
            "latent": self._latent.copy(),
            "session_id": self._session_id,
            "session_end": session_end,
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self._t = 0
        self._session_id = 0
        self._latent = np.asarray(self.sample_latent(self.np_random), dtype=np.float32)
        obs = self._reset_task(self.np_random)
        self._on_latent_change()
        return self._observe(obs), self._labels(session_end=False)

    def step(self, action: Any) -> tuple:
        if self._latent is None:
            raise RuntimeError("call reset() before step()")
        obs, reward, terminated, task_info = self._step_task(action)
        reward = float(reward)
        if not math.isfinite(reward):
            # Fail the step rather than train on it: RLlib then drops the episode and
            # recreates the env (rllib_dynamite.fault_tolerance counts and logs it).
            raise ValueError(
                f"{type(self).__name__} returned a non-finite reward ({reward}) at step {self._t}"
            )
        self._t += 1
        truncated = self._t >= self.H
        # d_t ~ Bernoulli(p) after every step (method.md §1); drawn even on the last
        # step so the episode's random stream does not depend on the horizon.
        session_end = bool(self.np_random.random() < self.p)
        info = {**task_info, **self._labels(session_end)}
        if session_end:
            self._session_id += 1
            self._latent = np.asarray(self._next_latent(self._latent), dtype=np.float32)
            self._on_latent_change()
        return self._observe(obs), reward, bool(terminated), truncated, info


class DLCMDPWrapper(DLCMDPEnv):
    """Turn a gymnasium env with a settable context into a DLCMDP.

    Args:
        env: the base env. Its observation must not reveal the context.
        sample_latent: ``rng -> latent``, the initial latent distribution ``ν_m``.
        transition_latent: ``(latent, rng) -> latent``, the structured ``T_m``.
        apply_latent: ``(env, latent) -> None``, puts the latent into the base env
            (called at reset and whenever a session ends).
        latent_space: a float ``Box`` the latents live in.
        p, H, latent_transition, oracle: as :class:`DLCMDPEnv`.

    A latent that ``sample_latent`` or ``transition_latent`` returns may be an array, a
    flat list, or a scalar for a one-element space: it is converted to
    ``latent_space``'s shape and dtype. One of another size raises ``ValueError``
    naming the function.

    The base env's own ``terminated`` ends the episode; its ``truncated`` is ignored
    in favour of the DLCMDP horizon ``H``.
    """

    def __init__(
        self,
        env: gym.Env,
        sample_latent: Callable[[np.random.Generator], np.ndarray],
        transition_latent: Callable[[np.ndarray, np.random.Generator], np.ndarray],
        apply_latent: Callable[[gym.Env, np.ndarray], None],
        latent_space: gym.spaces.Box,
        p: float,
        H: int,
        latent_transition: str = "structured",
        oracle: bool = False,
    ) -> None:
        super().__init__(p, H, latent_transition, oracle, render_mode=env.render_mode)
        self.env = env
        self._sample_latent = sample_latent
        self._transition_latent = transition_latent
        self._apply_latent = apply_latent
        self.latent_space = latent_space
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self._finish_spaces()

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return self._as_latent(self._sample_latent(rng), "sample_latent", self._sample_latent)

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        next_latent = self._transition_latent(latent, rng)
        return self._as_latent(next_latent, "transition_latent", self._transition_latent)

    def _as_latent(self, value: Any, role: str, function: Callable[..., Any]) -> np.ndarray:
        """``value`` in ``latent_space``'s shape and dtype: a scalar or a flat list of the
        right size is converted, anything else refused with one line naming ``function``."""
        shape = self.latent_space.shape
        try:
            latent = np.asarray(value, dtype=self.latent_space.dtype)
        except (TypeError, ValueError):
            latent = None
        if latent is not None and latent.shape != shape:
            fits = latent.ndim <= 1 and latent.size == math.prod(shape)
            latent = latent.reshape(shape) if fits else None
        if latent is None:
            got = f"an array of shape {np.shape(value)}" if np.ndim(value) else repr(value)
            raise ValueError(
                f"{role} ({_describe_callable(function)}) returned {got}, "
                f"not a latent of latent_space {self.latent_space}"
            )
        return latent

    def _on_latent_change(self) -> None:
        self._apply_latent(self.env, self._latent)

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        seed = int(rng.integers(2**31 - 1))
        obs, _ = self.env.reset(seed=seed)
        return obs

    def _step_task(self, action: Any) -> tuple[np.ndarray, float, bool, dict]:
        obs, reward, terminated, _truncated, info = self.env.step(action)
        return obs, reward, terminated, info

    def render(self) -> np.ndarray | None:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def _describe_callable(function: Callable[..., Any]) -> str:
    """``make_wind.<locals>.<lambda> at windy.py:12``: the name, and where it is defined."""
    name = getattr(function, "__qualname__", None) or repr(function)
    code = getattr(function, "__code__", None)
    if code is None:
        return name
    return f"{name} at {code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}"
