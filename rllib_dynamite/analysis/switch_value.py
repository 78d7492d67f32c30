"""When does leaving the old goal pay on a two-goal gridworld?
(``rllib-dynamite diagnose switch-value``)

Value iteration on the two-goal GridNavi with the goal *observed* (the Oracle's MDP),
infinite horizon, for several discount factors. At the decision that separates a
belief-based policy from a memoryless one (the agent stands on the goal it has been
collecting, and that goal has just moved to the other cell) it gives:

- the gain of walking towards the new goal instead of staying, when the goal did move;
- the cost of the same walk when the goal did not move;
- the belief on "the goal moved" above which walking beats staying:
  ``cost / (gain + cost)``.

A policy whose belief is less sure than that threshold does best, in its own discounted
objective, by staying: it acts like the best memoryless policy.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rllib_dynamite.envs.gridnavi import (
    GOAL_REWARD,
    GRID_SIZE,
    MOVES,
    STEP_REWARD,
    STRUCTURED_MOVE_PROB,
    GridNavi,
)


def goal_observed_q(env: GridNavi, gamma: float, tolerance: float = 1e-9) -> np.ndarray:
    """Q[x, y, goal index, action] of the two-goal gridworld with the goal observed."""
    goals = [tuple(int(v) for v in cell) for cell in env.goal_cells]
    if len(goals) != 2:
        raise ValueError("the switch analysis needs the two-goal variant (num_goals=2)")
    flip = env.p * STRUCTURED_MOVE_PROB  # a session ends and the goal moves
    n = GRID_SIZE
    next_x = np.empty((n, n, len(MOVES)), dtype=np.int64)
    next_y = np.empty_like(next_x)
    reward = np.empty((n, n, 2, len(MOVES)))
    for x in range(n):
        for y in range(n):
            for a, (dx, dy) in enumerate(MOVES):
                nx, ny = min(max(x + dx, 0), n - 1), min(max(y + dy, 0), n - 1)
                next_x[x, y, a], next_y[x, y, a] = nx, ny
                for g in range(2):
                    if (nx, ny) == goals[g]:
                        reward[x, y, g, a] = GOAL_REWARD
                    elif (nx, ny) == goals[1 - g]:
                        reward[x, y, g, a] = env.other_goal_reward
                    else:
                        reward[x, y, g, a] = STEP_REWARD
    value = np.zeros((n, n, 2))
    while True:
        after = value[next_x, next_y]  # [x, y, a, g]: value of the cell reached
        stay_goal = np.moveaxis(after, -1, 2)  # [x, y, g, a]
        moved_goal = stay_goal[:, :, ::-1]
        q = reward + gamma * ((1.0 - flip) * stay_goal + flip * moved_goal)
        new_value = q.max(-1)
        if np.abs(new_value - value).max() < tolerance:
            return q
        value = new_value


def switch_decision(env: GridNavi, gamma: float) -> dict[str, float]:
    """Gain, cost and belief threshold of leaving goal 0's cell for goal 1."""
    q = goal_observed_q(env, gamma)
    x, y = (int(v) for v in env.goal_cells[0])
    moved, unmoved = q[x, y, 1], q[x, y, 0]
    walk = 1 + int(np.argmax(moved[1:]))
    gain = float(moved[walk] - moved[0])
    cost = float(unmoved[0] - unmoved[walk])
    return {"gamma": gamma, "q_stay": float(moved[0]), "gain": gain, "cost": cost,
            "threshold": cost / (gain + cost)}  # fmt: skip


def print_switch_value(env_id: str, env: GridNavi, gammas: Iterable[float]) -> None:
    """Print :func:`switch_decision` for each discount of ``gammas`` on ``env`` (the
    unwrapped two-goal GridNavi that ``env_id`` made).

    Raises:
        ValueError: ``env`` is not a two-goal GridNavi.
    """
    if not isinstance(env, GridNavi) or len(env.goal_cells) != 2:
        raise ValueError(f"{env_id} is not a two-goal GridNavi (see --env-config)")
    print(f"{env_id}: goals {env.goal_cells.astype(int).tolist()}, p {env.p}, "
          f"inactive goal pays {env.other_goal_reward}")  # fmt: skip
    print("| γ | Q(stay), goal moved | gain of walking if moved | cost if not | belief needed |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for gamma in gammas:
        row = switch_decision(env, gamma)
        print(f"| {gamma} | {row['q_stay']:.2f} | {row['gain']:.3f} | {row['cost']:.3f} | "
              f"{row['threshold']:.2f} |")  # fmt: skip
