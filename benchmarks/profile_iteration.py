"""Where one training iteration's time goes, sampling and learning, in one process.

Builds a preset with a local EnvRunner (``num_env_runners=0``, 16 envs), warms up, then
times: the EnvRunner's ``sample()`` per batch, the learner's update of one sampled batch
(the learner connectors, GAE, PPO's epochs and the belief-model updates), whole
``algo.train()`` iterations with RLlib's ``learner_update_timer``, and one belief-model
update. ``--profile`` adds a cProfile of sampling and of the learner updates (the
functions with the most own time, or ``--sort cumtime``). ``--compare-gru`` times the
learner update and the belief-model update with the encoder's GRU run by ``nn.GRU`` and
by ``gru_through_time`` (its written-out backward pass), alternating, best block each.

    .venv/bin/python benchmarks/profile_iteration.py [--env ...] [--preset dynamite] [--profile]

Torch runs on one thread, as in every Ray actor (Ray sets ``OMP_NUM_THREADS=1``), where
a trial's learner and its EnvRunners run; with two threads on a busy 2-core machine,
every small op of a step waits for the second thread. The figures of docs/benchmarks.md
("Where the time went") come from this script. Run it alone, or compare code paths back
to back in one run: on 2 cores anything beside it distorts absolute figures.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import pstats
import time
from collections.abc import Callable

import ray
import torch

import rllib_dynamite  # noqa: F401
from rllib_dynamite.config import make_config
from rllib_dynamite.models import encoder


def _nn_gru(gru: torch.nn.GRU, inputs: torch.Tensor, state: torch.Tensor) -> tuple:
    """The encoder's sequence pass as before ``gru_through_time``: ``nn.GRU`` always."""
    hidden, final_state = gru(inputs, state.unsqueeze(0))
    return hidden, final_state.squeeze(0)


def _best_of_blocks(runs: dict[str, Callable[[], float]], blocks: int) -> dict[str, float]:
    """Each run's fastest of ``blocks`` calls, the runs taking turns (so that a change in
    the machine's load falls on all of them alike)."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(blocks):
        for name, run in runs.items():
            best[name] = min(best[name], run())
    return best


def _print_profile(profiler: cProfile.Profile, title: str, lines: int, sort: str) -> None:
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats(sort).print_stats(lines)
    print(f"\n--- {title} (sorted by {sort})\n{text.getvalue()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="rllib_dynamite/PaperGridNavi-v0")
    parser.add_argument("--preset", default="dynamite")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile sampling and learning")
    parser.add_argument("--lines", type=int, default=25, help="functions listed per profile")
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumtime"])
    parser.add_argument(
        "--compare-gru", action="store_true", help="nn.GRU against gru_through_time"
    )
    parser.add_argument("--blocks", type=int, default=5, help="alternations for --compare-gru")
    args = parser.parse_args()

    torch.set_num_threads(1)
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
        batches = []
        for _ in range(args.batches):
            batches.append(runner.sample())
            steps += sum(len(episode) for episode in batches[-1])
        sample_s = time.perf_counter() - start
        print(
            f"sample(): {sample_s / args.batches * 1e3:.1f} ms per batch of "
            f"{steps // args.batches} env steps ({sample_s / steps * 1e6:.1f} µs per step)"
        )

        # The learner connectors append a step to each episode they read: every update
        # gets fresh copies, made outside the timings.
        def copies() -> list[list]:
            return [copy.deepcopy(episodes) for episodes in batches]

        def update(episodes: list) -> None:
            algo.learner_group.update(
                episodes=episodes,
                timesteps={},
                num_epochs=config.num_epochs,
                minibatch_size=config.minibatch_size,
                shuffle_batch_per_epoch=config.shuffle_batch_per_epoch,
            )

        fresh = copies()
        start = time.perf_counter()
        for episodes in fresh:
            update(episodes)
        print(f"learner update: {(time.perf_counter() - start) / args.batches * 1e3:.1f} ms")

        learner_s, start = 0.0, time.perf_counter()
        for _ in range(args.batches):
            learner_s += algo.train()["timers"]["learner_update_timer"]
        iteration_s = (time.perf_counter() - start) / args.batches
        print(
            f"train(): {iteration_s * 1e3:.1f} ms per iteration; "
            f"learner_update_timer {learner_s / args.batches * 1e3:.1f} ms"
        )

        learner = algo.learner_group._learner
        if learner is not None and getattr(learner, "_vae_buffers", None):
            module_id = next(iter(learner._vae_buffers))
            learner._vae_update(module_id)
            start = time.perf_counter()
            for _ in range(20):
                learner._vae_update(module_id)
            print(f"one belief-model update: {(time.perf_counter() - start) / 20 * 1e3:.1f} ms")

        if args.compare_gru:
            _compare_gru(learner, batches, copies, update, args.blocks)

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.batches):
                runner.sample()
            profiler.disable()
            _print_profile(profiler, "sampling", args.lines, args.sort)
            fresh = copies()
            profiler = cProfile.Profile()
            profiler.enable()
            for episodes in fresh:
                update(episodes)
            profiler.disable()
            _print_profile(profiler, "learner updates", args.lines, args.sort)
    finally:
        algo.stop()


def _compare_gru(
    learner: object, batches: list, copies: Callable, update: Callable, blocks: int
) -> None:
    written_out = encoder.gru_through_time
    has_belief_model = bool(getattr(learner, "_vae_buffers", None))

    def timed(gru_pass: Callable, what: str) -> Callable[[], float]:
        def run() -> float:
            encoder.gru_through_time = gru_pass
            try:
                if what == "learner update":
                    fresh = copies()
                    start = time.perf_counter()
                    for episodes in fresh:
                        update(episodes)
                    return (time.perf_counter() - start) / len(batches)
                module_id = next(iter(learner._vae_buffers))
                start = time.perf_counter()
                for _ in range(10):
                    learner._vae_update(module_id)
                return (time.perf_counter() - start) / 10
            finally:
                encoder.gru_through_time = written_out

        return run

    whats = ["learner update"] + ["belief-model update"] * has_belief_model
    for what in whats:
        best = _best_of_blocks(
            {"nn.GRU": timed(_nn_gru, what), "gru_through_time": timed(written_out, what)},
            blocks,
        )
        print(
            f"{what}: nn.GRU {best['nn.GRU'] * 1e3:.1f} ms, gru_through_time "
            f"{best['gru_through_time'] * 1e3:.1f} ms "
            f"({best['gru_through_time'] / best['nn.GRU']:.2f}x the time)"
        )


if __name__ == "__main__":
    main()
