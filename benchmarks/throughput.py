"""Training throughput (env steps/s, sampling and learning together) against plain PPO.

Runs, in one process and one Ray session, DynaMITE-RL's `dynamite`, `varibad` and `rl2`
presets and RLlib's own PPO with an MLP and with its built-in LSTM, on GridNavi and
HalfCheetahVel, with the same batch settings (16 envs on one EnvRunner, complete
episodes, the env's default PPO epochs and minibatches). Prints steps/s, the ratio to
plain MLP PPO, where each iteration's time goes (RLlib's own timers), and each run's
peak resident memory: of this process (the driver, which also holds the learner, as a
trial's trainable does) and of its EnvRunner actor.

    .venv/bin/python benchmarks/throughput.py [--iterations 8] [--envs GridNavi,HalfCheetahVel]
        [--methods ppo_mlp,dynamite,dynamite:vae_updates_per_iteration=1]

A method is one of METHODS, and a belief preset may carry settings after colons
(``dynamite:vae_updates_per_iteration=1``), values read as YAML, to time a setting
against the preset's defaults in the same process.

Run it alone: on 2 cores anything beside it distorts the ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import ray
import yaml
from ray.rllib.algorithms.ppo import PPOConfig

import rllib_dynamite  # noqa: F401
from rllib_dynamite.config import horizon, make_config, mlp_model_config, resolve_settings

METHODS = ("ppo_mlp", "ppo_lstm", "dynamite", "varibad", "rl2")
BELIEF_METHODS = ("dynamite", "varibad", "rl2")
STATUS = Path("/proc/self/status")


def peak_rss_mib(*_: object) -> float:
    """This process's peak resident memory (MiB) since it started or since
    :func:`reset_peak_rss`: Linux's VmHWM, else ``getrusage``'s lifetime peak. The
    ignored argument lets an EnvRunner call it through ``foreach_env_runner``."""
    if STATUS.is_file():
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes or KiB


def reset_peak_rss() -> bool:
    """Restart this process's peak-memory count at its current size (Linux 4.0+), so
    each run of one process reports its own peak; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def parse_method(method: str) -> tuple[str, dict[str, object]]:
    """``dynamite:vae_updates_per_iteration=1`` -> ``("dynamite", {...: 1})``."""
    name, *pairs = method.split(":")
    if name not in METHODS:
        raise SystemExit(f"error: unknown method {name!r}; methods: {list(METHODS)}")
    if pairs and name not in BELIEF_METHODS:
        raise SystemExit(f"error: settings go with a belief preset {BELIEF_METHODS}, not {name}")
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"error: {method!r}: a setting is KEY=VALUE, got {pair!r}")
        settings[key] = yaml.safe_load(value)
    return name, settings


def build(env: str, method: str, seed: int) -> object:
    """An algorithm for ``method``; the RLlib baselines share DynaMITE's batch settings."""
    common = dict(num_env_runners=1, num_envs_per_env_runner=16, seed=seed)
    method, settings = parse_method(method)
    if method in BELIEF_METHODS:
        return make_config(env, method, **common, **settings).build_algo()
    reference = make_config(env, "markov_ppo", **common)
    settings = resolve_settings(env, "markov_ppo", **common)
    H = horizon(env, settings)
    model = mlp_model_config(settings)
    if method == "ppo_lstm":
        model = mlp_model_config(
            settings, use_lstm=True, lstm_cell_size=settings.gru_hidden_dim, max_seq_len=H + 1
        )
    config = (
        PPOConfig()
        .environment(env)
        .env_runners(num_env_runners=1, num_envs_per_env_runner=16, batch_mode="complete_episodes")
        .training(
            lr=settings.lr,
            gamma=settings.gamma,
            lambda_=settings.lambda_,
            clip_param=settings.clip_param,
            use_kl_loss=False,
            num_epochs=settings.num_epochs,
            train_batch_size_per_learner=reference.train_batch_size_per_learner,
            minibatch_size=reference.minibatch_size,
        )
        .rl_module(model_config=model)
        .debugging(seed=seed)
    )
    return config.build_algo()


def measure(env: str, method: str, iterations: int, warmup: int = 2) -> dict[str, float]:
    reset_peak_rss()
    algo = build(env, method, seed=0)
    try:
        for _ in range(warmup):
            algo.train()
        steps = sample_s = learn_s = inference_s = 0.0
        start = time.perf_counter()
        for _ in range(iterations):
            result = algo.train()
            steps += result["env_runners"]["num_env_steps_sampled"]
            sample_s += result["timers"]["env_runner_sampling_timer"]
            learn_s += result["timers"]["learner_update_timer"]
            inference_s += result["env_runners"].get("rlmodule_inference_timer", np.nan)
        elapsed = time.perf_counter() - start
        env_runner_mib = max(
            algo.env_runner_group.foreach_env_runner(peak_rss_mib, local_env_runner=False)
        )
        driver_mib = peak_rss_mib()
    finally:
        algo.stop()
    return {
        "driver_mib": driver_mib,
        "env_runner_mib": env_runner_mib,
        "steps_per_s": steps / elapsed,
        "sample_share": sample_s / elapsed,
        "learn_share": learn_s / elapsed,
        "sample_us_per_step": 1e6 * sample_s / steps,
        "inference_ms_per_call": 1e3 * inference_s / iterations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--envs", default="GridNavi,HalfCheetahVel")
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 1024**2)
    print(f"cores: {os.cpu_count()}, iterations timed per run: {args.iterations}")
    if not reset_peak_rss():
        print("note: the driver's peak memory is its lifetime peak (no /proc/self/clear_refs)")
    for name in args.envs.split(","):
        env = f"rllib_dynamite/{name}-v0"
        methods = args.methods.split(",")
        for method in methods:
            parse_method(method)  # refuse a bad name before anything runs
        results = {m: measure(env, m, args.iterations) for m in methods}
        baseline = results.get("ppo_mlp", {}).get("steps_per_s", np.nan)
        width = max(10, *map(len, methods))
        print(f"\n{env}")
        print(
            f"{'method':<{width}} {'steps/s':>9} {'vs MLP':>7} {'sampling':>9} {'learning':>9} "
            f"{'µs/step sampled':>16} {'driver MiB':>11} {'EnvRunner MiB':>14}"
        )
        for method, r in results.items():
            print(
                f"{method:<{width}} {r['steps_per_s']:>9.0f} {r['steps_per_s'] / baseline:>6.2f}x "
                f"{r['sample_share']:>8.0%} {r['learn_share']:>9.0%} "
                f"{r['sample_us_per_step']:>16.1f} {r['driver_mib']:>11.0f} "
                f"{r['env_runner_mib']:>14.0f}"
            )
    ray.shutdown()


if __name__ == "__main__":
    main()
