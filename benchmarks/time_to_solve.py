"""Time to solve: env steps and wall-clock minutes until a preset's greedy return first
reaches 90% of the scripted oracle's, on the paper's gridworld.

Each preset trains from scratch (``make_config``, the env's defaults, one EnvRunner of
16 envs); every ``--eval-interval`` iterations its learner's weights go to an
:class:`~rllib_dynamite.evaluation.Evaluator`, which plays the same seeded greedy
episodes each time, the episodes the scripted references of
``rllib_dynamite/evaluation/scripted.py`` play. A preset has solved the env when its
mean return reaches ``--target`` × the scripted oracle's (within ``1 - target`` of its
magnitude if negative, as in benchmarks/calibration.py); it stops there or at
``--max-timesteps``. The minutes count training only, not the evaluations; the steps
are env steps sampled, so a solve is seen up to one evaluation interval late.

    .venv/bin/python benchmarks/time_to_solve.py [--presets dynamite,varibad,rl2,oracle,markov_ppo]
        [--max-timesteps 2000000] [--seed 0]

A memoryless policy (``markov_ppo``) cannot reach the oracle on this env: it is in the
table as the floor. Run it alone: on 2 cores anything beside it stretches the minutes.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import ray
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

import rllib_dynamite  # noqa: F401
from rllib_dynamite.config import make_config, resolve_settings
from rllib_dynamite.envs import make
from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.evaluation.scripted import scripted_references
from rllib_dynamite.experiments.trainable import EVALUATION_SEED_OFFSET

PRESETS = ("dynamite", "varibad", "rl2", "oracle", "markov_ppo")


@dataclass
class Outcome:
    """One preset's run: where it first reached the target, else where it stopped."""

    preset: str
    solved: bool
    env_steps: int
    train_minutes: float
    best_return: float
    evaluations: int


def reaches(value: float, reference: float, target: float) -> bool:
    """``value`` is at least ``target`` × ``reference`` (for a negative reference: within
    ``1 - target`` of its magnitude)."""
    return value >= reference - (1.0 - target) * abs(reference)


def learner_module_state(algo: object) -> dict:
    """The full module's weights from the learner (decoders included), as the trainable
    hands them to its Evaluator."""
    state = algo.learner_group.get_state(components=f"{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}")
    return state[COMPONENT_LEARNER][COMPONENT_RL_MODULE][DEFAULT_MODULE_ID]


def time_to_solve(
    env: str,
    preset: str,
    reference: float,
    args: argparse.Namespace,
) -> Outcome:
    """Train ``preset`` until its greedy return reaches ``args.target`` × ``reference``
    or ``args.max_timesteps`` env steps."""
    config = make_config(env, preset, seed=args.seed)
    algo = config.build_algo()
    evaluator = Evaluator(config, seed=args.seed + EVALUATION_SEED_OFFSET)
    train_s, env_steps, best, evaluations, iteration = 0.0, 0, float("-inf"), 0, 0
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
            best, evaluations = max(best, value), evaluations + 1
            print(
                f"  {preset}: {env_steps:,} env steps, {train_s / 60:.1f} min, "
                f"greedy return {value:.2f}",
                flush=True,
            )
            if reaches(value, reference, args.target):
                return Outcome(preset, True, env_steps, train_s / 60, best, evaluations)
    finally:
        evaluator.stop()
        algo.stop()
    return Outcome(preset, False, env_steps, train_s / 60, best, evaluations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="rllib_dynamite/PaperGridNavi-v0")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--max-timesteps", type=int, default=2_000_000)
    parser.add_argument("--target", type=float, default=0.9, help="share of the oracle's")
    parser.add_argument("--eval-interval", type=int, default=5, help="iterations per evaluation")
    parser.add_argument("--episodes", type=int, default=25, help="episodes per evaluation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # The scripted references play the env without the oracle's observation.
    env_kwargs = resolve_settings(args.env, "markov_ppo").env_kwargs
    reference_env = make(args.env, **env_kwargs)
    references = scripted_references(
        reference_env, args.episodes, args.seed + EVALUATION_SEED_OFFSET
    )
    reference_env.close()
    if "oracle" not in references:
        parser.error(f"{args.env} has no scripted oracle to time against")
    oracle = references["oracle"].mean
    print(
        f"{args.env}: scripted oracle {oracle:.2f}, best memoryless "
        f"{references['memoryless'].mean:.2f}, random {references['random'].mean:.2f} "
        f"(the same {args.episodes} greedy episodes); target {args.target:.0%} of the oracle"
    )

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 1024**2)
    outcomes = [time_to_solve(args.env, preset, oracle, args) for preset in args.presets.split(",")]
    ray.shutdown()

    print(f"\n| preset | env steps to {args.target:.0%} of the oracle | minutes | best return |")
    print("| --- | ---: | ---: | ---: |")
    for o in outcomes:
        steps = f"{o.env_steps:,}" if o.solved else f"not reached by {o.env_steps:,}"
        print(
            f"| {o.preset} | {steps} | {o.train_minutes:.1f} | {o.best_return:.2f} "
            f"({o.best_return / oracle:.2f}×) |"
        )


if __name__ == "__main__":
    main()
