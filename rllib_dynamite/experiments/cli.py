"""The ``train`` and ``tune`` subcommands of ``rllib-dynamite`` (docs/usage.md).

:func:`add_experiment_commands` adds both to the main parser's subcommands and
:data:`EXPERIMENT_COMMANDS` maps their names to handlers, each returning an exit status.
A bad file, env id, preset or setting raises ``ConfigError``/``ValueError``/
``FileNotFoundError``, which the main CLI prints as one ``error: ...`` line with status
2, before Ray starts. Imports here stay light: Ray and torch load inside the handlers.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def add_experiment_commands(commands: Any) -> None:
    """Add ``train`` and ``tune`` to ``commands`` (``parser.add_subparsers()``)."""
    train = commands.add_parser(
        "train",
        help="train one configuration (a Tune run with one trial)",
        description="Train one configuration. Checkpoints and TensorBoard logs go under "
        "--output; the command prints where. Flags override --config.",
    )
    train.add_argument(
        "--env",
        help="a registered env id (see `rllib-dynamite envs`), or package.module:attr for "
        "your own env class or factory, imported from the current directory too "
        "(docs/custom_envs.md)",
    )
    train.add_argument("--preset", help="method preset (default: dynamite)")
    train.add_argument("--config", type=Path, help="experiment YAML with one configuration")
    train.add_argument("--stop-timesteps", type=int, help="env steps to train (default 1e6)")
    train.add_argument("--seed", type=int, help="seed (default 0)")
    train.add_argument("--num-env-runners", type=int, help="EnvRunner actors, one CPU each")
    train.add_argument("--checkpoint-frequency", type=int, help="iterations between checkpoints")
    train.add_argument(
        "--keep-checkpoints", type=int, help="checkpoints kept, the newest (default 3)"
    )
    train.add_argument("--eval-interval", type=int, help="iterations between evaluations (0: off)")
    train.add_argument("--eval-episodes", type=int, help="episodes per evaluation")
    train.add_argument(
        "--eval-explore", action="store_true", help="sample evaluation actions (default: greedy)"
    )
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any DynamiteSettings field, VALUE in YAML (e.g. lr=3e-4, env_config.p=0.1)",
    )
    train.add_argument("--output", type=Path, help="run directory (default: results/ENV-PRESET)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run")
    _add_ray_arguments(train)

    tune = commands.add_parser(
        "tune",
        help="run a Ray Tune sweep from an experiment YAML",
        description="Run the sweep an experiment YAML describes. tune_configs/ holds the "
        "project's, by purpose: paper/, local/, calibration/, studies/, examples/ "
        "(docs/configs.md says which file to run). Results go to OUTPUT/NAME.",
    )
    tune.add_argument(
        "file", type=Path, help="experiment YAML, e.g. tune_configs/examples/smoke.yaml"
    )
    tune.add_argument("--output", type=Path, default=Path("results"), help="default: results")
    tune.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    tune.add_argument("--dry-run", action="store_true", help="validate and list, run nothing")
    tune.add_argument(
        "--seeds",
        type=_seed_list,
        help="run only these of the file's seeds, e.g. 0,1,2 (results in OUTPUT/NAME-seeds-0-1-2; "
        "`plot` merges several result directories)",
    )
    tune.add_argument(
        "--presets",
        type=name_list("presets", "dynamite,varibad"),
        help="run only these of the file's presets, e.g. no_consistency (results in "
        "OUTPUT/NAME-no_consistency[-seeds-...])",
    )
    tune.add_argument(
        "--grid",
        metavar="KEY=V1[,V2...]",
        action="append",
        help="run only these values of one of the file's grids, e.g. p=1.0 for "
        "settings.env_config.p (results in OUTPUT/NAME[-...]-p-1.0); repeat it for "
        "several grids",
    )
    _add_ray_arguments(tune)


def name_list(what: str, example: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: comma-separated names, at least one."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        if not names:
            raise argparse.ArgumentTypeError(f"{what} must be names like {example}, got {text!r}")
        return names

    return parse


def _add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="Ray cluster address (default: embedded local Ray)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Ray's own output")


# -- train -----------------------------------------------------------------------------
def run_train(args: argparse.Namespace) -> int:
    """``rllib-dynamite train``."""
    from rllib_dynamite.envs.resolve import short_name
    from rllib_dynamite.experiments import Experiment, load_experiment, validate_experiment
    from rllib_dynamite.settings import ConfigError

    if args.config is None and args.env is None:
        raise ConfigError("train needs --env (or --config FILE.yaml)")
    _check_names(args)
    if args.config is not None:
        experiment = load_experiment(args.config)
    else:
        experiment = Experiment(name="train", env=args.env)
    settings = dict(experiment.settings)
    if args.num_env_runners is not None:
        settings["num_env_runners"] = args.num_env_runners
    for override in args.overrides:
        _apply_override(settings, override)
    changes: dict[str, Any] = {
        "env": args.env or experiment.env,
        "settings": settings,
        **({"presets": (args.preset,)} if args.preset else {}),
        **({"seeds": (args.seed,)} if args.seed is not None else {}),
    }
    for flag, field_name in (
        ("stop_timesteps", "stop_timesteps"),
        ("checkpoint_frequency", "checkpoint_frequency"),
        ("keep_checkpoints", "keep_checkpoints"),
        ("eval_interval", "evaluation_interval"),
        ("eval_episodes", "evaluation_episodes"),
    ):
        if getattr(args, flag) is not None:
            changes[field_name] = getattr(args, flag)
    if args.eval_explore:
        changes["evaluation_explore"] = True
    experiment = dataclasses.replace(experiment, **changes)
    if experiment.num_trials != 1:
        raise ConfigError(
            f"train runs one configuration, this one has {experiment.num_trials} "
            "(presets × seeds × grid points × num_samples); use `rllib-dynamite tune FILE`"
        )
    output = args.output or Path("results") / (
        f"{short_name(experiment.env)}-{experiment.presets[0]}"
    )
    experiment = dataclasses.replace(experiment, name=output.resolve().name)
    validate_experiment(experiment)
    print(
        f"training {experiment.presets[0]} on {experiment.env} for "
        f"{experiment.stop_timesteps:,} env steps; results in {output}"
    )
    return _run(experiment, output.resolve().parent, args, resume=args.resume, references=True)


def _check_names(args: argparse.Namespace) -> None:
    """Refuse an unknown env id, preset or setting among ``train``'s flags before the env
    is built and Ray and torch load, which takes seconds."""
    from rllib_dynamite.envs.resolve import resolve_env
    from rllib_dynamite.presets import check_preset
    from rllib_dynamite.settings import validate_settings

    if args.env is not None:
        resolve_env(args.env)
    if args.preset is not None:
        check_preset(args.preset)
    flags: dict[str, Any] = {}
    for override in args.overrides:
        _apply_override(flags, override)
    validate_settings(flags)


def _apply_override(settings: dict[str, Any], override: str) -> None:
    from rllib_dynamite.settings import ConfigError

    key, separator, text = override.partition("=")
    if not separator or not key:
        raise ConfigError(f"--set needs KEY=VALUE, got {override!r}")
    value = yaml.safe_load(text)
    if key.startswith("env_config."):
        settings["env_config"] = {**settings.get("env_config", {}), key[11:]: value}
    else:
        settings[key] = value


def _run(
    experiment: Any,
    storage: Path,
    args: argparse.Namespace,
    resume: bool,
    references: bool = False,
) -> int:
    from rllib_dynamite.experiments import describe, run_experiment

    summary = run_experiment(
        experiment, storage, address=args.address, resume=resume, verbose=args.verbose
    )
    for line in describe(summary):
        print(line)
    if references and len(summary.trials) == 1:
        _print_references(experiment, summary.trials[0].evaluation_return)
    if summary.failed:
        print(f"error: {len(summary.failed)} trial(s) failed", file=sys.stderr)
        return 1
    if summary.unfinished:
        print("interrupted: run the same command with --resume to continue", file=sys.stderr)
        return 130
    return 0


def _print_references(experiment: Any, evaluation_return: float) -> None:
    """The run's final greedy evaluation next to the env's references on the same seeded
    episodes (:func:`rllib_dynamite.analysis.references.print_references`), for envs
    that have them."""
    from rllib_dynamite.analysis.references import print_references
    from rllib_dynamite.envs import make
    from rllib_dynamite.experiments.trainable import EVALUATION_SEED_OFFSET

    if math.isnan(evaluation_return):
        return
    env = make(experiment.env, **experiment.settings.get("env_config", {}))
    try:
        print_references(
            env,
            experiment.evaluation_episodes,
            experiment.seeds[0] + EVALUATION_SEED_OFFSET,
            trained={experiment.presets[0]: evaluation_return},
        )
    finally:
        env.close()


# -- tune ------------------------------------------------------------------------------
def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds must be integers like 0,1,2, got {text!r}"
        ) from None
    return seeds


def run_tune(args: argparse.Namespace) -> int:
    """``rllib-dynamite tune``."""
    from rllib_dynamite.experiments import load_experiment

    experiment = load_experiment(args.file)
    for field, chosen, prefix in (("presets", args.presets, ""), ("seeds", args.seeds, "seeds-")):
        if chosen is None:
            continue
        available = getattr(experiment, field)
        unknown = [value for value in chosen if value not in available]
        if unknown:
            print(
                f"error: --{field} {unknown} not among the file's {field} {list(available)}",
                file=sys.stderr,
            )
            return 2
        suffix = prefix + "-".join(str(value) for value in chosen)
        experiment = dataclasses.replace(
            experiment, **{field: tuple(chosen)}, name=f"{experiment.name}-{suffix}"
        )
    for choice in args.grid or ():
        experiment = _restrict_grid(experiment, choice)
    print(
        f"{args.file}: {experiment.num_trials} trial(s) of {experiment.env} "
        f"({', '.join(experiment.presets)}; seeds {list(experiment.seeds)}), "
        f"{experiment.stop_timesteps:,} env steps each; results in "
        f"{args.output / experiment.name}"
    )
    if args.dry_run:
        return 0
    return _run(experiment, args.output, args, resume=args.resume)


def _restrict_grid(experiment: Any, choice: str) -> Any:
    """``experiment`` running only the chosen values of one grid (``--grid KEY=V1,V2``),
    its name suffixed with them."""
    from rllib_dynamite.experiments.schema import restrict_grid
    from rllib_dynamite.settings import ConfigError

    axis, separator, text = choice.partition("=")
    values = [yaml.safe_load(part) for part in text.split(",") if part.strip()]
    if not separator or not axis or not values:
        raise ConfigError(f"--grid needs KEY=V1[,V2...], e.g. p=1.0, got {choice!r}")
    settings = restrict_grid(experiment.settings, axis, values)
    suffix = f"{axis.rsplit('.', 1)[-1]}-" + "-".join(str(value) for value in values)
    return dataclasses.replace(experiment, settings=settings, name=f"{experiment.name}-{suffix}")


EXPERIMENT_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": run_train,
    "tune": run_tune,
}
