"""GridNavi study: DynaMITE-RL against its baselines, through the two study commands.

A thin wrapper: it writes an experiment YAML for the chosen presets, seeds and budget
(`OUTPUT/gridnavi_study.yaml`), runs `rllib-dynamite tune` on it, then
`rllib-dynamite plot` on its results merged with earlier sittings (`--merge`). By hand:

    rllib-dynamite tune OUTPUT/gridnavi_study.yaml --output OUTPUT
    rllib-dynamite plot OUTPUT/gridnavi_study [EARLIER ...] --out OUTPUT/curves.png

    .venv/bin/python benchmarks/gridnavi_study.py --timesteps 1000000 --seeds 3 \
        --output results/gridnavi_study

Each trial runs its EnvRunner in its own process: run it alone, one trial per core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from rllib_dynamite.cli import main as cli

NAME = "gridnavi_study"
METHODS = ("dynamite", "varibad", "rl2", "oracle", "markov_ppo")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="rllib_dynamite/GridNavi-v0")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated presets")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a DynamiteSettings override for every method (VALUE in YAML), e.g. vae_lr=1e-3",
    )
    parser.add_argument("--output", type=Path, default=Path("results/gridnavi_study"))
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--merge", nargs="*", default=[], help="earlier results directories")
    parser.add_argument("--no-run", action="store_true", help="only plot the --merge dirs")
    parser.add_argument("--at-steps", help="read every run at this env-step budget")
    parser.add_argument("--threshold", help="report env steps to reach this return")
    parser.add_argument("--metric", help="curve of another column, e.g. an entropy or VAE loss")
    args = parser.parse_args()
    if args.no_run and not args.merge:
        parser.error("--no-run plots the --merge directories: name at least one")

    settings = {"num_env_runners": 0, "num_envs_per_env_runner": 16}
    for item in args.set:
        name, _, value = item.partition("=")
        settings[name] = yaml.safe_load(value)
    experiment = {
        "name": NAME,
        "description": "benchmarks/gridnavi_study.py",
        "env": args.env,
        "presets": args.methods.split(","),
        "seeds": list(range(args.first_seed, args.first_seed + args.seeds)),
        "stop_timesteps": args.timesteps,
        "checkpoint_frequency": 0,
        "evaluation_interval": 100,
        "evaluation_episodes": 25,
        "settings": settings,
    }
    results = [*args.merge]
    if not args.no_run:
        args.output.mkdir(parents=True, exist_ok=True)
        config_file = args.output / f"{NAME}.yaml"
        config_file.write_text(yaml.safe_dump(experiment, sort_keys=False))
        status = cli(["tune", str(config_file), "--output", str(args.output)]
                     + (["--resume"] if args.resume else []))  # fmt: skip
        if status != 0:
            return status
        results.append(str(args.output / NAME))
    options = [
        *(["--at-steps", args.at_steps] if args.at_steps else []),
        *(["--threshold", args.threshold] if args.threshold else []),
        *(["--metric", args.metric] if args.metric else []),
    ]
    return cli(["plot", *results, "--out", str(args.output / "curves.png"), *options])


if __name__ == "__main__":
    sys.exit(main())
