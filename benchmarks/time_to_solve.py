"""Time to solve: env steps and wall-clock minutes until a preset's greedy return first
reaches 90% of what its class of policy can reach, on the paper's gridworld.

Each preset trains from scratch (``make_config``, the env's defaults, one EnvRunner of
16 envs); every ``--eval-interval`` iterations its learner's weights go to an
:class:`~rllib_dynamite.evaluation.Evaluator`, which plays the same seeded greedy
episodes each time, the episodes the scripted references of
``rllib_dynamite/evaluation/scripted.py`` play.

Each preset is timed against its own ceiling, the best return a policy of its kind can
reach on the env: ``oracle`` the scripted oracle (it reads the true goal);
``dynamite``, ``varibad`` and ``rl2`` the Bayes optimum (``evaluation/bayes.py``: it
knows only what the rewards revealed; the exact expectation on a two-goal gridworld,
else the Bayes-filter goal search on the same episodes); ``markov_ppo`` the best
memoryless policy. A preset has solved the env when its mean return reaches
``--target`` × its ceiling (within ``1 - target`` of its magnitude if negative, as in
``rllib-dynamite calibrate``); it stops there or at ``--max-timesteps``. The table also
says where each first reached ``--target`` × the scripted oracle, which on the paper's
gridworld only the oracle can: the Bayes optimum there is 0.79× the oracle, the best
memoryless policy 0.71× (docs/results.md, "What a belief can reach"). The minutes
count training only, not the evaluations; the steps are env steps sampled, so a solve
is seen up to one evaluation interval late.

    .venv/bin/python benchmarks/time_to_solve.py [--presets dynamite,varibad,rl2,oracle,markov_ppo]
        [--max-timesteps 1000000] [--target 0.9] [--seed 0]

Run it alone: on 2 cores anything beside it stretches the minutes.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import ray
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

import rllib_dynamite  # noqa: F401
from rllib_dynamite.analysis.references import belief_returns, scripted_returns
from rllib_dynamite.calibration.gates import reaches
from rllib_dynamite.config import make_config, resolve_settings
from rllib_dynamite.envs import make
from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.experiments.trainable import EVALUATION_SEED_OFFSET

PRESETS = ("dynamite", "varibad", "rl2", "oracle", "markov_ppo")
# The class of policy each preset belongs to, named by the reference that bounds it.
CEILING = {"oracle": "oracle", "markov_ppo": "memoryless"}
BELIEF_CEILING = "belief"  # every other preset: memory-based, bounded by the Bayes optimum


@dataclass
class Outcome:
    """One preset's run: where it first reached its own ceiling's target and the
    oracle's (``None``: not reached), and where it stopped."""

    preset: str
    own: tuple[int, float] | None  # (env steps, training minutes)
    oracle: tuple[int, float] | None
    env_steps: int
    train_minutes: float
    best_return: float


def learner_module_state(algo: object) -> dict:
    """The full module's weights from the learner (decoders included), as the trainable
    hands them to its Evaluator."""
    state = algo.learner_group.get_state(components=f"{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}")
    return state[COMPONENT_LEARNER][COMPONENT_RL_MODULE][DEFAULT_MODULE_ID]


def ceilings(env_id: str, episodes: int, seed: int) -> dict[str, float]:
    """The references, on the evaluation's seeded episodes: ``oracle``, ``memoryless``,
    ``random`` (scripted) and ``belief`` (the exact Bayes optimum on a two-goal
    gridworld, else the Bayes-filter goal search)."""
    # The scripted references play the env without the oracle's observation.
    env = make(env_id, **resolve_settings(env_id, "markov_ppo").env_kwargs)
    try:
        references = scripted_returns(env, episodes, seed)
        beliefs = belief_returns(env, episodes, seed)
    finally:
        env.close()
    references[BELIEF_CEILING] = beliefs.get("Bayes-optimal", beliefs["goal search"])
    return references


def time_to_solve(
    env: str,
    preset: str,
    references: dict[str, float],
    args: argparse.Namespace,
) -> Outcome:
    """Train ``preset`` until its greedy return reaches ``args.target`` × its ceiling or
    ``args.max_timesteps`` env steps."""
    own_ceiling = references[CEILING.get(preset, BELIEF_CEILING)]
    config = make_config(env, preset, seed=args.seed)
    algo = config.build_algo()
    evaluator = Evaluator(config, seed=args.seed + EVALUATION_SEED_OFFSET)
    train_s, env_steps, best, iteration = 0.0, 0, float("-inf"), 0
    own = oracle = None
    try:
        while env_steps < args.max_timesteps:
            start = time.perf_counter()
            result = algo.train()
            train_s += time.perf_counter() - start
            env_steps = int(result[NUM_ENV_STEPS_SAMPLED_LIFETIME])
            iteration += 1
            if iteration % args.eval_interval and env_steps < args.max_timesteps:
                continue
            evaluator.set_module_state(learner_module_state(algo))
            report = evaluator.evaluate(args.episodes, with_figure=False)
            value = float(report.metrics["episode_return_mean"])
            best = max(best, value)
            print(
                f"  {preset}: {env_steps:,} env steps, {train_s / 60:.1f} min, "
                f"greedy return {value:.2f}",
                flush=True,
            )
            if oracle is None and reaches(value, references["oracle"], args.target):
                oracle = (env_steps, train_s / 60)
            if own is None and reaches(value, own_ceiling, args.target):
                own = (env_steps, train_s / 60)
                break
    finally:
        evaluator.stop()
        algo.stop()
    return Outcome(preset, own, oracle, env_steps, train_s / 60, best)


def reached(point: tuple[int, float] | None, stopped_at: int) -> str:
    """A table cell: env steps and minutes, or where the run stopped without it."""
    return f"{point[0]:,} ({point[1]:.1f} min)" if point else f"not by {stopped_at:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="rllib_dynamite/PaperGridNavi-v0")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--max-timesteps", type=int, default=1_000_000)
    parser.add_argument("--target", type=float, default=0.9, help="share of the ceiling")
    parser.add_argument("--eval-interval", type=int, default=5, help="iterations per evaluation")
    parser.add_argument("--episodes", type=int, default=100, help="episodes per evaluation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    try:
        references = ceilings(args.env, args.episodes, args.seed + EVALUATION_SEED_OFFSET)
    except ValueError as error:  # no scripted references, or not a gridworld
        parser.error(f"{args.env} has no ceilings to time against: {error}")
    if "oracle" not in references:
        parser.error(f"{args.env} has no scripted oracle to time against")
    oracle = references["oracle"]
    print(
        f"{args.env}, the same {args.episodes} greedy episodes: scripted oracle {oracle:.2f}, "
        f"Bayes optimum {references[BELIEF_CEILING]:.2f} "
        f"({references[BELIEF_CEILING] / oracle:.2f}×), best memoryless "
        f"{references['memoryless']:.2f} ({references['memoryless'] / oracle:.2f}×), random "
        f"{references['random']:.2f}; target {args.target:.0%} of each preset's ceiling"
    )

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 1024**2)
    outcomes = [
        time_to_solve(args.env, preset, references, args) for preset in args.presets.split(",")
    ]
    ray.shutdown()

    print(
        f"\n| preset | ceiling | to {args.target:.0%} of its ceiling | "
        f"to {args.target:.0%} of the oracle | best return |"
    )
    print("| --- | --- | ---: | ---: | ---: |")
    for o in outcomes:
        name = CEILING.get(o.preset, BELIEF_CEILING)
        print(
            f"| {o.preset} | {name} {references[name]:.2f} | {reached(o.own, o.env_steps)} | "
            f"{reached(o.oracle, o.env_steps)} | {o.best_return:.2f} "
            f"({o.best_return / oracle:.2f}×) |"
        )


if __name__ == "__main__":
    main()
