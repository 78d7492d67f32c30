"""What it means to have adapted to a new latent: a per-step success test (docs/usage.md).

After a switch, the agent has adapted at the first step where it collects what the new
latent makes achievable, not merely as much as it got before the switch (an agent that
never reaches a goal would otherwise "adapt" at once). A step succeeds:

- for any env whose ``info`` carries ``is_success`` (gymnasium's convention, used by
  gymnasium-robotics and Stable-Baselines3): when that flag is true. This is how your
  own env states its rule; it takes precedence over the rules below.
- GridNavi (every variant): the reward is at least the goal reward: the agent stands
  on the new goal.
- Reacher: the fingertip is within :data:`REACH_TOLERANCE` of the target
  (``−info["reward_dist"]``); the best achievable distance is 0.
- HalfCheetahVel: the forward velocity is within :data:`VELOCITY_TOLERANCE` of the
  target (``−info["reward_forward"]``); the best achievable error is 0.
- ScratchItch: the step scratched the itch (``info["reward_scratch"] > 0``).

An env with neither has no rule: its adaptation metrics are NaN, not a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from rllib_dynamite.envs.gridnavi import GOAL_REWARD

# m [choice]: about the fingertip's and the target's radii together (0.01 + 0.009 m);
# a structured switch moves the target 0.21 m, so the old target never counts.
REACH_TOLERANCE = 0.02
# m/s [choice]: half the smallest structured jump of the target velocity (0.5 m/s), so
# holding the old pace never counts.
VELOCITY_TOLERANCE = 0.25

SuccessRule = Callable[[float, dict[str, Any]], bool]


def _on_goal(reward: float, info: dict[str, Any]) -> bool:
    return reward >= GOAL_REWARD


def _at_target(reward: float, info: dict[str, Any]) -> bool:
    return -info["reward_dist"] <= REACH_TOLERANCE


def _at_velocity(reward: float, info: dict[str, Any]) -> bool:
    return -info["reward_forward"] <= VELOCITY_TOLERANCE


def _scratched(reward: float, info: dict[str, Any]) -> bool:
    return info["reward_scratch"] > 0.0


# By class path, so reading a rule does not import MuJoCo; a subclass inherits its
# parent's rule.
RULES: dict[str, SuccessRule] = {
    "rllib_dynamite.envs.gridnavi.GridNavi": _on_goal,
    "rllib_dynamite.envs.reacher.Reacher": _at_target,
    "rllib_dynamite.envs.halfcheetah_vel.HalfCheetahVel": _at_velocity,
    "rllib_dynamite.envs.scratch_itch.ScratchItch": _scratched,
}


def success_rule(env: gym.Env | None) -> SuccessRule | None:
    """The built-in rule for ``env``'s class (module docstring), or ``None``. An env
    that holds another as ``env`` (e.g. the offline belief-observation env) and passes
    its ``info`` on is judged by that env's rule."""
    while isinstance(env, gym.Env):
        env = env.unwrapped
        for cls in type(env).__mro__:
            rule = RULES.get(f"{cls.__module__}.{cls.__qualname__}")
            if rule is not None:
                return rule
        env = getattr(env, "env", None)
    return None


def step_successes(
    rule: SuccessRule | None, rewards: Sequence[float], infos: Sequence[dict[str, Any]]
) -> np.ndarray | None:
    """[T] bool: whether transition ``t`` succeeded; ``None`` when the env reports no
    ``is_success`` and has no rule."""
    if infos and all("is_success" in info for info in infos):
        return np.array([bool(info["is_success"]) for info in infos])
    if rule is None:
        return None
    return np.array([rule(float(r), info) for r, info in zip(rewards, infos, strict=True)])
