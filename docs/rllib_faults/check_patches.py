"""Run both reproductions against the installed Ray with each proposed patch applied.

``python docs/rllib_faults/check_patches.py`` (under a minute on 2 CPUs). It copies the
patched files of the installed Ray to a temporary folder, applies each ``*.patch`` there
with ``git apply``, loads the patched EnvRunner classes beside the installed ones (the
install itself is left alone) and runs the reproductions with them. Each patch should
turn its ``FAULT`` into ``OK`` and keep runs reproducible from their seed.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import ray
import ray.rllib.env.env_runner  # noqa: F401 (registers the module that gets swapped below)

HERE = Path(__file__).resolve().parent
RAY = Path(ray.__file__).parent
FILES = ["env_runner.py", "single_agent_env_runner.py", "multi_agent_env_runner.py"]


def _load(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def patched_env_runner(patch: str) -> type:
    """``SingleAgentEnvRunner`` as ``patch`` leaves it (on a patched ``EnvRunner``)."""
    with tempfile.TemporaryDirectory() as root:
        env_dir = Path(root) / "rllib" / "env"
        env_dir.mkdir(parents=True)
        for name in FILES:
            shutil.copy(RAY / "rllib" / "env" / name, env_dir / name)
        subprocess.run(["git", "apply", str(HERE / patch)], cwd=root, check=True)
        sources = {name: (env_dir / name).read_text() for name in FILES}
    base = types.ModuleType("patched_env_runner")
    exec(compile(sources["env_runner.py"], "env_runner.py", "exec"), base.__dict__)
    # single_agent_env_runner.py imports EnvRunner from its module: hand it the patched one.
    installed = sys.modules["ray.rllib.env.env_runner"]
    sys.modules["ray.rllib.env.env_runner"] = base
    try:
        single = types.ModuleType("patched_single_agent_env_runner")
        source = sources["single_agent_env_runner.py"]
        exec(compile(source, "single_agent_env_runner.py", "exec"), single.__dict__)
    finally:
        sys.modules["ray.rllib.env.env_runner"] = installed
    return single.SingleAgentEnvRunner


def main() -> None:
    reseed = _load("complete_episodes_reseed")
    overlap = _load("seed_overlap")

    runner_cls = patched_env_runner("complete_episodes_reseed.patch")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        batches = reseed.training_batches(env_runner_cls=runner_cls)
        again = reseed.training_batches(env_runner_cls=runner_cls)
    finally:
        ray.shutdown()
    fresh = not any(set(batches[0]) & set(b) for b in batches[1:])
    print(f"complete_episodes_reseed.patch: fresh batches {fresh}, reproducible {again == batches}")

    runner_cls = patched_env_runner("seed_overlap.patch")
    keys = [(seed, w) for seed in (0, 1) for w in (1, 2)]
    streams = {key: overlap.runner_streams(*key, env_runner_cls=runner_cls)[1] for key in keys}
    shared = max(
        overlap.shared(streams[a], streams[b]) for i, a in enumerate(keys) for b in keys[i + 1 :]
    )
    same = overlap.runner_streams(0, 1, env_runner_cls=runner_cls)[1] == streams[(0, 1)]
    print(f"seed_overlap.patch: most streams shared by two runners {shared}, reproducible {same}")
    ok = fresh and again == batches and shared == 0 and same
    print("OK: both patches fix their fault" if ok else "FAULT: a patch does not fix its fault")


if __name__ == "__main__":
    main()
