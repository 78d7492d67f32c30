"""The references a trained policy is read against, computed and printed in one place
(``rllib-dynamite diagnose bounds``; ``train`` prints the same line after its run).

- **Scripted** (``evaluation/scripted.py``): ``random``, ``memoryless`` (the best policy
  that sees only the observation) and, where the env has one, ``oracle`` (reads the true
  latent), on the same seeded episodes a trained policy's evaluation plays.
- **Belief** (``evaluation/bayes.py``, GridNavi only): a memory-based method
  (DynaMITE-RL, VariBAD, RL²) sits between memoryless and oracle, and its own upper bound
  is the Bayes-optimal policy, which knows only what the rewards it received reveal.
  ``goal search`` is an exact Bayes filter over the goals that walks to the most probable
  one, a belief policy, so a lower bound on the Bayes optimum; on the two-goal ids,
  ``Bayes-optimal`` is the exact Bayes optimum (belief-MDP backward induction over the
  horizon). With a training discount γ, also the best memoryless policy's exact expected
  return beside its sampled one, and the stationary optimum at γ (what PPO's
  bootstrapped objective asks for), each as its exact expected return.
"""

from __future__ import annotations

from collections.abc import Iterable

import gymnasium as gym
import numpy as np

from rllib_dynamite.config import resolve_settings
from rllib_dynamite.envs import make
from rllib_dynamite.envs.gridnavi import GridNavi
from rllib_dynamite.evaluation import bayes
from rllib_dynamite.evaluation.scripted import scripted_references

GRIDNAVI_IDS = (
    "rllib_dynamite/GridNavi-v0",
    "rllib_dynamite/TwoGoalGridNavi-v0",
    "rllib_dynamite/PaperGridNavi-v0",
)
# What a belief can reach, as the one-line summary names it.
BELIEF_SUMMARY = ("goal search", "Bayes-optimal")


def scripted_returns(env: gym.Env, episodes: int, seed: int = 0) -> dict[str, float]:
    """The mean return of each scripted reference the env has (``random``,
    ``memoryless``, ``oracle``) over ``episodes`` episodes seeded by ``seed``.

    Raises:
        NoScriptedReferences: the env has none (a ``ValueError``).
    """
    return {name: ref.mean for name, ref in scripted_references(env, episodes, seed).items()}


def belief_returns(
    env: gym.Env, episodes: int, seed: int = 0, gamma: float | None = None
) -> dict[str, float]:
    """What a belief can reach on a GridNavi (module docstring): ``goal search`` and its
    standard error ``goal search s.e.`` on the seeded episodes; on a two-goal gridworld
    ``Bayes-optimal`` and, with ``gamma``, ``memoryless exact`` and ``Bayes-optimal
    stationary`` (at ``gamma``).

    Raises:
        ValueError: ``env`` is not a GridNavi.
    """
    search = bayes.belief_rollout_returns(env, bayes.GoalSearch(env), episodes, seed)
    row = {
        "goal search": float(search.mean()),
        "goal search s.e.": float(search.std(ddof=1) / np.sqrt(episodes)),
    }
    if len(env.unwrapped.goal_cells) == 2:
        row["Bayes-optimal"] = bayes.expected_return(env, bayes.solve(env))
        if gamma is not None:
            row["memoryless exact"] = max(
                bayes.expected_return(env, bayes.fixed_cell_policy(env, tuple(cell)))
                for cell in env.unwrapped.goal_cells.astype(int)
            )
            row["Bayes-optimal stationary"] = bayes.expected_return(
                env, bayes.solve(env, gamma, stationary=True)
            )
    return row


def reference_line(
    scripted: dict[str, float], beliefs: dict[str, float], trained: dict[str, float]
) -> str:
    """``dynamite 30.12 | scripted random -5.10 | … | belief goal search 28.40 | …``:
    the ``trained`` returns, then the references (what a belief can reach: only the
    names of :data:`BELIEF_SUMMARY`)."""
    line = [f"{name} {value:.2f}" for name, value in trained.items()]
    line += [f"scripted {name} {value:.2f}" for name, value in scripted.items()]
    line += [f"belief {name} {beliefs[name]:.2f}" for name in BELIEF_SUMMARY if name in beliefs]
    return " | ".join(line)


def print_references(
    env: gym.Env, episodes: int, seed: int, trained: dict[str, float] | None = None
) -> bool:
    """Print the ``trained`` greedy returns beside the env's references on the same
    ``episodes`` episodes seeded by ``seed``, on one line; ``False`` (nothing printed)
    for an env without scripted references."""
    try:
        scripted = scripted_returns(env, episodes, seed)
    except ValueError:
        return False
    try:
        beliefs = belief_returns(env, episodes, seed)
    except ValueError:  # not a GridNavi
        beliefs = {}
    line = reference_line(scripted, beliefs, trained or {})
    print(f"greedy evaluation, the same {episodes} episodes for each: {line}")
    return True


def bounds(env_id: str, episodes: int, seed: int = 0) -> dict[str, float]:
    """Every reference of a GridNavi id (module docstring), the exact ones at the
    ``dynamite`` preset's training γ on that id.

    Raises:
        ValueError: ``env_id`` is not a GridNavi.
    """
    env = make(env_id)
    if not isinstance(env.unwrapped, GridNavi):
        raise ValueError(f"bounds are computed for GridNavi ids, not {env_id}")
    gamma = resolve_settings(env_id, "dynamite").gamma
    return {
        **scripted_returns(env, episodes, seed),
        **belief_returns(env, episodes, seed, gamma),
        "gamma": gamma,
    }


def print_bounds(
    env_ids: Iterable[str] = GRIDNAVI_IDS, episodes: int = 500, seed: int = 0
) -> list[dict[str, float]]:
    """Print the Markdown table of :func:`bounds` over ``env_ids``, a row as each is
    computed; return the rows.

    Raises:
        ValueError: an id is not a GridNavi.
    """
    print(
        "| env | random | best memoryless | goal search (± s.e.) | Bayes optimum "
        "| Bayes, stationary at training γ | scripted oracle |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for env_id in env_ids:
        row = bounds(env_id, episodes, seed)
        exact = row.get("memoryless exact")
        stationary = row.get("Bayes-optimal stationary")
        cells = [
            env_id.split("/")[-1],
            f"{row['random']:.2f}",
            f"{row['memoryless']:.2f}" + (f" (exact {exact:.2f})" if exact is not None else ""),
            f"{row['goal search']:.2f} ± {row['goal search s.e.']:.2f}",
            f"{row['Bayes-optimal']:.2f}" if "Bayes-optimal" in row else "–",
            f"{stationary:.2f}" if stationary is not None else "–",
            f"{row['oracle']:.2f}",
        ]
        print("| " + " | ".join(cells) + " |", flush=True)
        rows.append(row)
    return rows
