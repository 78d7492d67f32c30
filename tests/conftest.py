"""Shared fixtures: one small local Ray for the whole session."""

import os

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def ray_local():
    """A 2-CPU local Ray, shared by every test that needs one."""
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=300 * 1024**2,
            log_to_driver=False,
        )
    yield ray
    ray.shutdown()


@pytest.fixture
def write_trial():
    """Write one trial directory in the format Tune writes (params.json, progress.csv,
    result.json) and return it: ``write_trial(directory, preset=..., seed=...,
    steps=[...], returns=[...], evaluations={iteration index: return}, date=Tune's
    date string)``."""
    import json

    import pandas as pd

    def write(
        directory,
        *,
        preset,
        seed,
        steps,
        returns,
        evaluations=None,
        env="rllib_dynamite/GridNavi-v0",
        settings=None,
        date=None,
    ):
        directory.mkdir(parents=True)
        params = {"env": env, "preset": preset, "settings": {**(settings or {}), "seed": seed},
                  "stop_timesteps": steps[-1], "evaluation_interval": 1,
                  "evaluation_episodes": 2, "evaluation_explore": False}  # fmt: skip
        (directory / "params.json").write_text(json.dumps(params))
        results = []
        for iteration, (step, episode_return) in enumerate(zip(steps, returns, strict=True)):
            result = {
                "training_iteration": iteration + 1,
                "num_env_steps_sampled_lifetime": step,
                "time_total_s": 60.0 * (iteration + 1),
                **({"date": date} if date else {}),
                "env_runners": {"episode_return_mean": episode_return},
                "learners": {"default_policy": {"entropy": 1.0 / (iteration + 1)}},
                "trial_id": directory.name,
            }
            if evaluations and iteration in evaluations:
                value = evaluations[iteration]
                result["evaluation"] = {"episode_return_mean": value,
                                        "episode_returns": [value - 1.0, value + 1.0]}  # fmt: skip
            results.append(result)
        (directory / "result.json").write_text("".join(json.dumps(r) + "\n" for r in results))
        # progress.csv: the flattened results with the first iteration's columns.
        rows = pd.json_normalize(results, sep="/")
        first = pd.json_normalize(results[:1], sep="/").columns
        rows[[c for c in first if "episode_returns" not in c]].to_csv(
            directory / "progress.csv", index=False
        )
        return directory

    return write
