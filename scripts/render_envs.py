"""Render one frame of every DLCMDP env to ``docs/images/<Name>.png``.

Each env is reset with a fixed seed and stepped with a few seeded random actions, so the
picture shows a typical mid-episode state (the latent is drawn, e.g. GridNavi's goal cell
or Reacher's target). Envs whose module does not exist yet are skipped.

    MUJOCO_GL=egl .venv/bin/python scripts/render_envs.py [GridNavi Reacher ...]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from matplotlib.image import imsave

from rllib_dynamite.envs import ENTRY_POINTS, ENV_IDS, make

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
NUM_STEPS = 20


def env_name(env_id: str) -> str:
    """``"rllib_dynamite/GridNavi-v0"`` -> ``"GridNavi"``."""
    return env_id.split("/")[-1].rsplit("-v", 1)[0]


def render_env(env_id: str, path: Path, seed: int = 0) -> None:
    """Write an ``(height, width, 3)`` RGB frame of ``env_id`` after a few steps to ``path``."""
    env = make(env_id, render_mode="rgb_array", p=0.0)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(NUM_STEPS):
        env.step(env.action_space.sample())
    imsave(path, env.render())
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="env names to render (default: all)")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    for env_id in ENV_IDS:
        name = env_name(env_id)
        if args.names and name not in args.names:
            continue
        module = ENTRY_POINTS[env_id].split(":")[0]
        if importlib.util.find_spec(module) is None:
            print(f"skipping {name}: {module} does not exist yet")
            continue
        path = IMAGES / f"{name}.png"
        render_env(env_id, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
