"""Scripted reference policies: the yardsticks a trained preset is calibrated against.

A comparison of methods means little until each method's upper bound is sound
(docs/results.md, "Calibration"). For every env with a scripted reference this module
gives three policies, each a callable ``(env, obs) -> action`` over a gymnasium env:

- ``random``: uniform actions;
- ``memoryless``: the best policy that sees only the current observation (for a
  gridworld: walk to one fixed goal cell and stay, the best cell chosen by its return);
- ``oracle``: a policy that reads the true latent (``env.unwrapped.latent``), the
  upper bound of every preset.

Episodes are seeded as RLlib's single-env EnvRunner seeds them (``reset(seed=seed)``
once, then plain resets), so a trained policy evaluated with the same seed meets the
same latent sequence where the env's randomness does not depend on the actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rllib_dynamite.envs.gridnavi import MOVES, GridNavi

ScriptedPolicy = Callable[[gym.Env, np.ndarray], Any]
STAY, UP, RIGHT, DOWN, LEFT = range(len(MOVES))


def random_policy(env: gym.Env, obs: np.ndarray) -> Any:
    """A uniformly random action."""
    return env.action_space.sample()


def walk_to(cell: tuple[int, int]) -> ScriptedPolicy:
    """GridNavi: walk to ``cell`` (x first, then y) and stay there."""
    target_x, target_y = int(cell[0]), int(cell[1])

    def policy(env: gym.Env, obs: np.ndarray) -> int:
        return _step_towards(int(obs[0]), int(obs[1]), target_x, target_y)

    return policy


def gridnavi_oracle(env: gym.Env, obs: np.ndarray) -> int:
    """GridNavi: walk to the current goal, read from the env's true latent."""
    goal = env.unwrapped.latent
    return _step_towards(int(obs[0]), int(obs[1]), int(goal[0]), int(goal[1]))


def _step_towards(x: int, y: int, target_x: int, target_y: int) -> int:
    if x != target_x:
        return RIGHT if target_x > x else LEFT
    if y != target_y:
        return UP if target_y > y else DOWN
    return STAY


def run_episodes(env: gym.Env, policy: ScriptedPolicy, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` episodes of ``policy`` on ``env``: [episodes]."""
    env.action_space.seed(seed)
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(env, obs))
            returns[episode] += reward
            done = terminated or truncated
    return returns


@dataclass
class Reference:
    """A scripted policy's returns on one env configuration."""

    name: str
    description: str
    returns: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.returns.mean())


def scripted_references(env: gym.Env, episodes: int, seed: int = 0) -> dict[str, Reference]:
    """``random``, ``memoryless`` and ``oracle`` references on ``env``, each over the
    ``episodes`` episodes seeded by ``seed``.

    The best memoryless cell is chosen on other episodes (seeded ``seed + 1``): the best
    of 21 noisy means, measured on the episodes it was chosen on, overstates its return.

    Raises:
        ValueError: the env has no scripted references (only the gridworlds have them).
    """
    task = env.unwrapped
    if not isinstance(task, GridNavi):
        raise ValueError(f"no scripted references for {type(task).__name__} (GridNavi only)")
    if task.oracle:
        raise ValueError("scripted references run on the env without the oracle observation")
    cells = [tuple(int(v) for v in cell) for cell in task.goal_cells]
    selection = {
        cell: run_episodes(env, walk_to(cell), episodes, seed + 1).mean() for cell in cells
    }
    best_cell = max(cells, key=selection.__getitem__)
    return {
        "random": Reference(
            "random", "uniform actions", run_episodes(env, random_policy, episodes, seed)
        ),
        "memoryless": Reference(
            "memoryless",
            f"walk to goal cell {best_cell} and stay (best of {len(cells)} cells)",
            run_episodes(env, walk_to(best_cell), episodes, seed),
        ),
        "oracle": Reference(
            "oracle",
            "walk to the true current goal",
            run_episodes(env, gridnavi_oracle, episodes, seed),
        ),
    }
