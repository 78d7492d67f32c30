"""Sampling throughput against the number of env runners, on a local multi-node cluster.

Starts `cluster/local.sh start 2` (a head with no CPUs, two worker nodes of
`--worker-cpus` CPUs each, on 127.0.0.2; or uses `--address` of a running cluster),
then, for 1, 2 and 4 env runners of DynaMITE-RL on GridNavi (16 envs each, the
project's default), times `sample()` on every env runner at once: env steps per
second of the whole group, the speed-up over one env runner, and the per-runner
efficiency; that is the part of a training iteration that grows with nodes. Then one
training iteration (`algo.train()`, after a warm-up one): env steps per second of
sampling and learning together, and the learner's share of the iteration, which is
what stops the growth (docs/benchmarks.md, "Scaling").

    .venv/bin/python benchmarks/scaling.py [--runners 1 2 4] [--rounds 5]

The machine's core count and load are printed beside the table: on a machine with
fewer cores than env runners, the speed-up stops at the cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

import ray

from rllib_dynamite.config import make_config

ROOT = Path(__file__).resolve().parents[1]
ENV = "rllib_dynamite/GridNavi-v0"


def start_cluster(port: int, worker_cpus: int) -> str:
    env = {
        **os.environ,
        "LOCAL_RAY_PORT": str(port),
        "LOCAL_RAY_WORKER_CPUS": str(worker_cpus),
        "LOCAL_RAY_DASHBOARD": "false",
    }
    out = subprocess.run(
        ["bash", str(ROOT / "cluster/local.sh"), "start", "2"],
        env=env, check=True, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    return next(
        line.split("=", 1)[1] for line in out.splitlines() if line.startswith("RAY_ADDRESS=")
    )


def stop_cluster(port: int) -> None:
    subprocess.run(
        ["bash", str(ROOT / "cluster/local.sh"), "stop"],
        env={**os.environ, "LOCAL_RAY_PORT": str(port)}, check=False, timeout=120,
    )  # fmt: skip


def measure(num_env_runners: int, envs_per_runner: int, rounds: int) -> dict:
    """Env steps/s of ``num_env_runners`` sampling at once (best of ``rounds``), the Ray
    node of each env runner, and one training iteration: its env steps/s and the
    learner's share of its time."""
    config = make_config(
        ENV, "dynamite", num_env_runners=num_env_runners,
        num_envs_per_env_runner=envs_per_runner, seed=0,
    )  # fmt: skip
    algo = config.build_algo()
    group = algo.env_runner_group
    try:
        nodes = group.foreach_env_runner(
            lambda r: ray.get_runtime_context().get_node_id()[:8], local_env_runner=False
        )
        group.foreach_env_runner(lambda r: len(r.sample()), local_env_runner=False)  # warm-up
        rates = []
        for _ in range(rounds):
            start = time.perf_counter()
            steps = group.foreach_env_runner(
                lambda r: sum(len(e) for e in r.sample()), local_env_runner=False
            )
            rates.append(sum(steps) / (time.perf_counter() - start))
        algo.train()  # warm-up: first learner update
        start = time.perf_counter()
        result = algo.train()
        seconds = time.perf_counter() - start
        timers = result["timers"]
        return dict(
            sample_rate=max(rates),
            nodes=nodes,
            batch=result["env_runners"]["num_env_steps_sampled"],
            train_rate=result["env_runners"]["num_env_steps_sampled"] / seconds,
            learner_share=timers["learner_update_timer"] / timers["training_iteration"],
        )
    finally:
        algo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--envs-per-runner", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="timed sample() rounds, best kept")
    parser.add_argument("--worker-cpus", type=int, default=2, help="CPUs of each worker node")
    parser.add_argument("--port", type=int, default=6590, help="GCS port of the local cluster")
    parser.add_argument("--address", help="use this running cluster instead")
    args = parser.parse_args()

    address = args.address or start_cluster(args.port, args.worker_cpus)
    try:
        ray.init(address=address, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        print(
            f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
            f"cluster: {len(ray.nodes())} nodes, {cpus} CPUs for env runners; "
            f"GridNavi, dynamite, {args.envs_per_runner} envs per env runner"
        )
        print(
            "| env runners | sampling env steps/s | speed-up | per-runner efficiency | "
            "train batch | training env steps/s | learner share | nodes |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        base = None
        for runners in args.runners:
            if runners > cpus:
                print(f"| {runners} | skipped: the cluster has {cpus} CPUs |")
                continue
            row = measure(runners, args.envs_per_runner, args.rounds)
            base = base or row["sample_rate"]
            speedup = row["sample_rate"] / base
            print(
                f"| {runners} | {row['sample_rate']:,.0f} | {speedup:.2f}× | "
                f"{speedup / runners:.0%} | {row['batch']:,} | {row['train_rate']:,.0f} | "
                f"{row['learner_share']:.0%} | {' '.join(sorted(row['nodes']))} |",
                flush=True,
            )
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        ray.shutdown()
        if not args.address:
            stop_cluster(args.port)


if __name__ == "__main__":
    main()
