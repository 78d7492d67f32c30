"""What a belief can reach on each gridworld, beside the memoryless and oracle bounds.

The calibration (benchmarks/calibration.py) bounds the memoryless and the oracle presets.
A memory-based method (DynaMITE-RL, VariBAD, RL²) sits between them, and its own upper
bound is the Bayes-optimal policy: it knows only what the rewards it received reveal.
For every GridNavi id this prints, on the same seeded episodes:

- ``random``, ``memoryless``, ``oracle``: the scripted references;
- ``goal search``: an exact Bayes filter over the goals that walks to the most probable
  one (``evaluation/bayes.py``), a belief policy, so a lower bound on the Bayes optimum;
- on the two-goal ids, the best memoryless policy's exact expected return beside its
  sampled one, and the exact Bayes optimum (belief-MDP backward induction over the
  horizon), and the stationary optimum at the env's training discount γ (what PPO's
  bootstrapped objective asks for), each as its exact expected return.

    .venv/bin/python scripts/belief_bounds.py --episodes 500
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rllib_dynamite.config import resolve_settings
from rllib_dynamite.envs import make
from rllib_dynamite.evaluation import bayes
from rllib_dynamite.evaluation.scripted import scripted_references

ENV_IDS = (
    "rllib_dynamite/GridNavi-v0",
    "rllib_dynamite/TwoGoalGridNavi-v0",
    "rllib_dynamite/PaperGridNavi-v0",
)


def bounds(env_id: str, episodes: int, seed: int) -> dict[str, float]:
    """The row of ``env_id``: every reference's mean return (module docstring)."""
    env = make(env_id)
    row = {name: ref.mean for name, ref in scripted_references(env, episodes, seed).items()}
    search = bayes.belief_rollout_returns(env, bayes.GoalSearch(env), episodes, seed)
    row["goal search"] = float(search.mean())
    row["goal search s.e."] = float(search.std(ddof=1) / np.sqrt(episodes))
    if len(env.unwrapped.goal_cells) == 2:
        gamma = resolve_settings(env_id, "dynamite").gamma
        row["bayes"] = bayes.expected_return(env, bayes.solve(env))
        row["memoryless exact"] = max(
            bayes.expected_return(env, bayes.fixed_cell_policy(env, tuple(cell)))
            for cell in env.unwrapped.goal_cells.astype(int)
        )
        row[f"bayes γ={gamma}"] = bayes.expected_return(
            env, bayes.solve(env, gamma, stationary=True)
        )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", action="append", help="a GridNavi id (default: all three)")
    args = parser.parse_args(argv)
    print(
        "| env | random | best memoryless | goal search (± s.e.) | Bayes optimum "
        "| Bayes, stationary at training γ | scripted oracle |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for env_id in args.env or ENV_IDS:
        try:
            row = bounds(env_id, args.episodes, args.seed)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        stationary = next((v for k, v in row.items() if k.startswith("bayes γ")), None)
        cells = [
            env_id.split("/")[-1],
            f"{row['random']:.2f}",
            f"{row['memoryless']:.2f}"
            + (f" (exact {row['memoryless exact']:.2f})" if "memoryless exact" in row else ""),
            f"{row['goal search']:.2f} ± {row['goal search s.e.']:.2f}",
            f"{row['bayes']:.2f}" if "bayes" in row else "–",
            f"{stationary:.2f}" if stationary is not None else "–",
            f"{row['oracle']:.2f}",
        ]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
