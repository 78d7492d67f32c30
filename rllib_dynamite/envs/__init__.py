"""DLCMDP environments, registered with gymnasium and RLlib on import.

``gymnasium.make("rllib_dynamite/GridNavi-v0", p=0.1)`` works for every id in
:data:`ENV_IDS`, and so does ``config.environment("rllib_dynamite/GridNavi-v0")``.
"""

from __future__ import annotations

import os
from typing import Any

# MuJoCo renders off-screen through EGL on machines without a display.
os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402

from rllib_dynamite.envs.dlcmdp import DLCMDPEnv, DLCMDPWrapper  # noqa: E402
from rllib_dynamite.envs.resolve import EnvLike, resolve_env  # noqa: E402

ENTRY_POINTS = {
    "rllib_dynamite/GridNavi-v0": "rllib_dynamite.envs.gridnavi:GridNavi",
    "rllib_dynamite/PaperGridNavi-v0": "rllib_dynamite.envs.gridnavi:GridNavi",
    "rllib_dynamite/TwoGoalGridNavi-v0": "rllib_dynamite.envs.gridnavi:GridNavi",
    "rllib_dynamite/Reacher-v0": "rllib_dynamite.envs.reacher:Reacher",
    "rllib_dynamite/HalfCheetahVel-v0": "rllib_dynamite.envs.halfcheetah_vel:HalfCheetahVel",
    "rllib_dynamite/ScratchItch-v0": "rllib_dynamite.envs.scratch_itch:ScratchItch",
}
# Registered variants: an id whose defaults differ from its class's.
ENV_KWARGS: dict[str, dict[str, Any]] = {
    # The paper's gridworld as a third-party reimplementation reads it (docs/method.md §6).
    "rllib_dynamite/PaperGridNavi-v0": {"num_goals": 2, "other_goal_reward": 0.0},
    # GridNavi's two-goal variant (the inactive goal pays -0.1 like any other cell): its
    # own id, so that it can have its own defaults (rllib_dynamite/env_defaults.py).
    "rllib_dynamite/TwoGoalGridNavi-v0": {"num_goals": 2},
}
ENV_IDS: tuple[str, ...] = tuple(ENTRY_POINTS)


def env_class(env_id: str) -> type[DLCMDPEnv]:
    """The class behind a registered id; ``ValueError`` naming the ids for an unknown one."""
    if env_id not in ENTRY_POINTS:
        raise ValueError(f"unknown env id {env_id!r}; registered ids: {list(ENV_IDS)}")
    return gym.envs.registration.load_env_creator(ENTRY_POINTS[env_id])


def env_defaults(env: EnvLike) -> dict[str, Any]:
    """The keyword arguments an env takes, with their defaults (a registered id's
    gymnasium ``kwargs`` included). ``env``: any form of :func:`resolve_env`."""
    return resolve_env(env).defaults


def validate_env_kwargs(env: EnvLike, env_kwargs: dict[str, Any]) -> None:
    """``ValueError`` naming an unknown keyword argument and the allowed ones."""
    resolve_env(env).validate(env_kwargs)


def make(env: EnvLike, **env_kwargs: Any) -> gym.Env:
    """A new env (any form of :func:`resolve_env`), its keyword arguments checked."""
    return resolve_env(env).make(**env_kwargs)


def _register() -> None:
    for env_id, entry_point in ENTRY_POINTS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=entry_point,
                disable_env_checker=True,
                kwargs=ENV_KWARGS.get(env_id, {}),
            )


_register()

__all__ = [
    "DLCMDPEnv",
    "DLCMDPWrapper",
    "ENV_IDS",
    "env_class",
    "env_defaults",
    "make",
    "register_with_rllib",
    "resolve_env",
]


def register_with_rllib() -> None:
    """Register every id with ``ray.tune.register_env`` (imports Ray, so not at import)."""
    from functools import partial

    from ray.tune import register_env

    for env_id in ENV_IDS:
        register_env(env_id, partial(_make_registered, env_id))


def _make_registered(env_id: str, env_config: dict[str, Any]) -> gym.Env:
    return make(env_id, **dict(env_config))
