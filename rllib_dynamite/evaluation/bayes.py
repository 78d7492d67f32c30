"""The Bayes-optimal policy of a two-goal gridworld: what any belief can reach.

The scripted oracle reads the true goal, so it bounds every preset from above; a policy
that sees only its history (DynaMITE-RL, VariBAD, RL²) is bounded by the Bayes-optimal
policy instead, and on a gridworld whose goal moves unobserved the two can differ a lot.

On the two-goal gridworlds (``PaperGridNavi-v0``, ``TwoGoalGridNavi-v0``) the exact
posterior over the goal is a function of two things: which goal the last goal cell the
agent stood on revealed (its reward says whether it is the active one), and how many
steps ago. In between, each step the goal moves with probability ``q = p · P(move)``, so
the belief that it is still the revealed one relaxes towards 1/2 as
``1/2 + 1/2 (1 − 2q)^k``. The belief MDP is therefore finite: (cell, goal last revealed
or none, steps since, capped at the horizon). This module solves it exactly:

- :func:`solve` by backward induction over the horizon: with ``gamma=1`` the policy that
  maximises the expected episode return given only the agent's observations (the upper
  bound of every belief method); with ``gamma < 1``, ``stationary=True``, the infinite-
  horizon discounted optimum, which is what PPO's bootstrapped objective asks for;
- :func:`expected_return` evaluates a solved policy's undiscounted return exactly;
- :func:`rollout_returns` runs it on the real env (its own Bayes filter on the rewards
  it receives; it never reads the latent), seeded like ``evaluation/scripted.py``.

Any GridNavi (21 goals too, where the belief MDP is too large to solve) also gets
:class:`GoalSearch`: an exact Bayes filter over the goals with a scripted search on top
(walk to the most probable goal, the nearest among ties). It is a belief policy, so its
return is a *lower* bound on the Bayes-optimal one: what a belief method can at least
reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from rllib_dynamite.envs.gridnavi import (
    GOAL_REWARD,
    GRID_SIZE,
    MOVES,
    STEP_REWARD,
    STRUCTURED_MOVE_PROB,
    GridNavi,
)
from rllib_dynamite.evaluation.scripted import step_towards

NONE = 2  # no goal revealed yet: the belief is the uniform initial one


@dataclass
class BayesPolicy:
    """A solved belief MDP. ``action[t, x, y, g, k]``: the action at step ``t`` on cell
    ``(x, y)`` when goal ``g`` (0, 1, or :data:`NONE`) was revealed ``k`` steps ago
    (``k`` ≥ 1, capped at ``H``); a stationary policy has the same action at every ``t``.
    """

    action: np.ndarray
    move_prob: float  # q: probability that the goal moves between two steps
    gamma: float
    stationary: bool

    def belief_same(self, k: np.ndarray | int) -> np.ndarray:
        """P(the goal is still the one revealed ``k`` steps ago)."""
        return 0.5 + 0.5 * (1.0 - 2.0 * self.move_prob) ** np.asarray(k)


def _two_goal(env: gym.Env) -> GridNavi:
    base = env.unwrapped
    if not isinstance(base, GridNavi) or len(base.goal_cells) != 2:
        raise ValueError("the Bayes-optimal policy is solved for the two-goal gridworlds only")
    return base


def move_probability(env: gym.Env) -> float:
    """``q``: the probability that the goal moves between two steps of ``env``."""
    base = _two_goal(env)
    moves_at_session_end = 0.5 if base.latent_transition == "uniform" else STRUCTURED_MOVE_PROB
    return base.p * moves_at_session_end


class _Model:
    """The belief MDP as arrays over flat states ``(x, y, g, k)``, ``k`` in 0..H (0 only
    for :data:`NONE`): every action has at most two outcomes."""

    def __init__(self, env: gym.Env) -> None:
        base = _two_goal(env)
        self.H = K = base.H
        self.q = move_probability(env)
        goals = [tuple(int(v) for v in cell) for cell in base.goal_cells]
        n, A = GRID_SIZE, len(MOVES)
        self.shape = (n, n, 3, K + 1)
        same = 0.5 + 0.5 * (1.0 - 2.0 * self.q) ** np.arange(K + 1)
        p1 = np.stack([1.0 - same, same, np.full(K + 1, 0.5)])  # P(goal 1 active | g, k)
        S = int(np.prod(self.shape))
        self.prob = np.zeros((S, A, 2))
        self.reward = np.zeros((S, A, 2))
        self.next = np.zeros((S, A, 2), dtype=np.int64)
        for s in range(S):
            x, y, g, k = np.unravel_index(s, self.shape)
            for a, (dx, dy) in enumerate(MOVES):
                nx, ny = min(max(x + dx, 0), n - 1), min(max(y + dy, 0), n - 1)
                if (nx, ny) in goals:
                    j = goals.index((nx, ny))
                    active = p1[g, k] if j == 1 else 1.0 - p1[g, k]
                    self.prob[s, a] = (active, 1.0 - active)
                    self.reward[s, a] = (GOAL_REWARD, base.other_goal_reward)
                    self.next[s, a] = (
                        np.ravel_multi_index((nx, ny, j, 1), self.shape),
                        np.ravel_multi_index((nx, ny, 1 - j, 1), self.shape),
                    )
                else:
                    k_next = 0 if g == NONE else min(k + 1, K)
                    self.prob[s, a] = (1.0, 0.0)
                    self.reward[s, a] = (STEP_REWARD, 0.0)
                    self.next[s, a] = np.ravel_multi_index((nx, ny, g, k_next), self.shape)
        self.start = int(np.ravel_multi_index((0, 0, NONE, 0), self.shape))

    def q_values(self, value: np.ndarray, gamma: float) -> np.ndarray:
        """[S, A]: expected reward plus discounted value of the next state."""
        return (self.prob * (self.reward + gamma * value[self.next])).sum(-1)


def solve(env: gym.Env, gamma: float = 1.0, stationary: bool = False) -> BayesPolicy:
    """The optimal policy of ``env``'s belief MDP (module docstring).

    Args:
        env: a two-goal gridworld (any wrapper of one).
        gamma: discount.
        stationary: the infinite-horizon discounted optimum (``gamma`` < 1) instead of
            the optimum over ``env``'s horizon.
    """
    if stationary and not 0.0 <= gamma < 1.0:
        raise ValueError(f"a stationary policy needs gamma in [0, 1), got {gamma!r}")
    model = _Model(env)
    value = np.zeros(model.prob.shape[0])
    if stationary:
        while True:
            q = model.q_values(value, gamma)
            new_value = q.max(-1)
            if np.abs(new_value - value).max() < 1e-10:
                break
            value = new_value
        action = np.broadcast_to(q.argmax(-1), (model.H, q.shape[0]))
    else:
        action = np.zeros((model.H, value.shape[0]), dtype=np.int64)
        for t in range(model.H - 1, -1, -1):
            q = model.q_values(value, gamma)
            action[t], value = q.argmax(-1), q.max(-1)
    return BayesPolicy(
        action=action.reshape(model.H, *model.shape),
        move_prob=model.q,
        gamma=gamma,
        stationary=stationary,
    )


def fixed_cell_policy(env: gym.Env, cell: tuple[int, int]) -> BayesPolicy:
    """ "Walk to ``cell`` and stay", whatever was seen, as a :class:`BayesPolicy`, so that
    :func:`expected_return` gives a memoryless policy's exact return."""
    model = _Model(env)
    action = np.zeros((model.H, *model.shape), dtype=np.int64)
    for x in range(GRID_SIZE):
        for y in range(GRID_SIZE):
            action[:, x, y] = step_towards(x, y, int(cell[0]), int(cell[1]))
    return BayesPolicy(action=action, move_prob=model.q, gamma=1.0, stationary=False)


def expected_return(env: gym.Env, policy: BayesPolicy) -> float:
    """The exact expected (undiscounted) episode return of ``policy`` on ``env``."""
    model = _Model(env)
    S = model.prob.shape[0]
    distribution = np.zeros(S)
    distribution[model.start] = 1.0
    flat_action = policy.action.reshape(model.H, S)
    total = 0.0
    for t in range(model.H):
        rows = np.arange(S)
        prob = model.prob[rows, flat_action[t]]  # [S, 2]
        total += float((distribution[:, None] * prob * model.reward[rows, flat_action[t]]).sum())
        following = np.zeros(S)
        np.add.at(following, model.next[rows, flat_action[t]], distribution[:, None] * prob)
        distribution = following
    return total


class BayesFilter:
    """The agent's side of :class:`BayesPolicy` on a real env: it tracks (goal last
    revealed, steps since) from its own cells and rewards, never the latent."""

    def __init__(self, env: gym.Env, policy: BayesPolicy) -> None:
        base = _two_goal(env)
        self.policy = policy
        self.goals = [tuple(int(v) for v in cell) for cell in base.goal_cells]
        self.H = base.H
        self.reset()

    def reset(self) -> None:
        self.t, self.revealed, self.since = 0, NONE, 0

    def act(self, obs: np.ndarray) -> int:
        x, y = int(obs[0]), int(obs[1])
        return int(self.policy.action[self.t, x, y, self.revealed, self.since])

    def observe(self, obs: np.ndarray, reward: float) -> None:
        """Fold in the cell reached and the reward received there."""
        self.t += 1
        cell = (int(obs[0]), int(obs[1]))
        if cell in self.goals:
            j = self.goals.index(cell)
            self.revealed, self.since = (j if reward == GOAL_REWARD else 1 - j), 1
        elif self.revealed != NONE:
            self.since = min(self.since + 1, self.H)


def rollout_returns(env: gym.Env, policy: BayesPolicy, episodes: int, seed: int = 0) -> np.ndarray:
    """Episode returns of ``policy`` on the real ``env``; ``reset(seed=seed)`` once, then
    plain resets, as RLlib's EnvRunner and ``evaluation/scripted.py`` seed episodes."""
    return belief_rollout_returns(env, BayesFilter(env, policy), episodes, seed)


def goal_transitions(env: gym.Env) -> np.ndarray:
    """[G, G]: P(goal index at the next step | goal index now) of any GridNavi."""
    base = env.unwrapped
    if not isinstance(base, GridNavi):
        raise ValueError("goal transitions are defined for GridNavi only")
    G = len(base.goal_cells)
    uniform = np.full((G, G), 1.0 / G)
    if base.latent_transition == "uniform":
        at_session_end = uniform
    else:
        image = np.eye(G)[base._goal_image]
        otherwise = np.eye(G) if G == 2 else uniform  # see GridNavi.transition_latent_structured
        at_session_end = STRUCTURED_MOVE_PROB * image + (1.0 - STRUCTURED_MOVE_PROB) * otherwise
    return (1.0 - base.p) * np.eye(G) + base.p * at_session_end


class GoalSearch:
    """A scripted belief policy for any GridNavi: an exact Bayes filter over the goal
    cells (it reads its own cells and rewards, never the latent) that walks to the most
    probable goal, the nearest one among ties, and stays while it pays.

    Use with :func:`belief_rollout_returns`.
    """

    def __init__(self, env: gym.Env) -> None:
        base = env.unwrapped
        self.transitions = goal_transitions(env)
        self.goals = np.asarray(base.goal_cells, dtype=np.int64)
        self.other_goal_reward = base.other_goal_reward
        self.reset()

    def reset(self) -> None:
        self.belief = np.full(len(self.goals), 1.0 / len(self.goals))

    def act(self, obs: np.ndarray) -> int:
        x, y = int(obs[0]), int(obs[1])
        distance = np.abs(self.goals - (x, y)).sum(-1)
        # Most probable first; among (near-)ties the nearest.
        score = np.round(self.belief, 9) - 1e-6 * distance
        target_x, target_y = self.goals[int(np.argmax(score))]
        return step_towards(x, y, int(target_x), int(target_y))

    def observe(self, obs: np.ndarray, reward: float) -> None:
        """Bayes update on the reward at the cell reached, then one step of the goal's
        dynamics."""
        at = (self.goals == (int(obs[0]), int(obs[1]))).all(-1)
        if reward == GOAL_REWARD:
            likelihood = at.astype(float)
        else:
            likelihood = (~at).astype(float)
        posterior = self.belief * likelihood
        total = posterior.sum()
        posterior = posterior / total if total > 0 else np.full_like(posterior, 1 / len(posterior))
        self.belief = posterior @ self.transitions


def belief_rollout_returns(
    env: gym.Env, agent: GoalSearch | BayesFilter, episodes: int, seed: int = 0
) -> np.ndarray:
    """Episode returns of a belief agent (``act``/``observe``/``reset``) on ``env``,
    seeded as :func:`rollout_returns`."""
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        agent.reset()
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
            agent.observe(obs, reward)
            returns[episode] += reward
            done = terminated or truncated
    return returns


__all__ = [
    "BayesFilter",
    "GoalSearch",
    "belief_rollout_returns",
    "goal_transitions",
    "BayesPolicy",
    "expected_return",
    "fixed_cell_policy",
    "move_probability",
    "rollout_returns",
    "solve",
]
