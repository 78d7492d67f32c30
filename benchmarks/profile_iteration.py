"""Where one training iteration's time goes, sampling and learning, in one process.

Builds a preset with a local EnvRunner (``num_env_runners=0``, 16 envs), warms up, then
times: the EnvRunner's ``sample()`` per batch, whole ``algo.train()`` iterations with
RLlib's ``learner_update_timer``, and one belief-model update. ``--profile`` adds a
cProfile of sampling (the functions with the most own time).

    .venv/bin/python benchmarks/profile_iteration.py [--preset dynamite] [--profile]

The figures of docs/benchmarks.md ("Where the time went") come from this script; the
"before" column from running it on commit 7ae098f (it uses only ``make_config``).
Run it alone: on 2 cores anything beside it distorts the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import ray

import rllib_dynamite  # noqa: F401
from rllib_dynamite.config import make_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="rllib_dynamite/GridNavi-v0")
    parser.add_argument("--preset", default="dynamite")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the sampling")
    args = parser.parse_args()

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 1024**2)
    config = make_config(
        args.env, args.preset, num_env_runners=0, num_envs_per_env_runner=16, seed=0
    )
    algo = config.build_algo()
    try:
        for _ in range(3):
            algo.train()
        runner = algo.env_runner
        steps, start = 0, time.perf_counter()
        for _ in range(args.batches):
            steps += sum(len(episode) for episode in runner.sample())
        sample_s = time.perf_counter() - start
        print(
            f"sample(): {sample_s / args.batches * 1e3:.1f} ms per batch of "
            f"{steps // args.batches} env steps ({sample_s / steps * 1e6:.1f} µs per step)"
        )

        learner_s, start = 0.0, time.perf_counter()
        for _ in range(args.batches):
            learner_s += algo.train()["timers"]["learner_update_timer"]
        iteration_s = (time.perf_counter() - start) / args.batches
        print(
            f"train(): {iteration_s * 1e3:.1f} ms per iteration; "
            f"learner_update_timer {learner_s / args.batches * 1e3:.1f} ms"
        )

        learner = algo.learner_group._learner
        if learner is not None and learner._vae_buffers:
            module_id = next(iter(learner._vae_buffers))
            learner._vae_update(module_id)
            start = time.perf_counter()
            for _ in range(20):
                learner._vae_update(module_id)
            print(f"one belief-model update: {(time.perf_counter() - start) / 20 * 1e3:.1f} ms")

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.batches):
                runner.sample()
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
            print(text.getvalue())
    finally:
        algo.stop()


if __name__ == "__main__":
    main()
