"""The ``calibrate`` subcommand of ``rllib-dynamite``.

:func:`add_calibrate_command` adds it to the main parser's subcommands and
:data:`CALIBRATE_COMMANDS` maps its name to its handler, which returns an exit status:
0 when every gate passed, 1 when one did not (or a trial failed). A bad argument raises
``ValueError``/``FileNotFoundError``, which the main CLI prints as one ``error: ...``
line with status 2, before Ray starts. Imports here stay light: the calibration's
modules (Ray, torch, SciPy) load inside the handler.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path("results")


def add_calibrate_command(commands: Any) -> None:
    """Add ``calibrate`` to ``commands`` (``parser.add_subparsers()``)."""
    calibrate = commands.add_parser(
        "calibrate",
        help="can PPO learn this env at all? train oracle and markov_ppo, judge them",
        description="Train markov_ppo and, where the env takes oracle=True, oracle on a "
        "few seeds at a short budget (one Tune run under --output), play each final "
        "checkpoint greedily beside the env's scripted references (random, the best "
        "memoryless policy, a scripted oracle; your env's own through its "
        "scripted_policies() method) and print one PASS/FAIL line per preset with its "
        "numbers. Gates: against scripted bounds, 95% of them; against a scripted oracle "
        "that is no bound, 80% of the gap from random to it; without references, oracle "
        "clearly above markov_ppo clearly above random (a 95% Welch interval and a "
        "minimum effect, 3 seeds or more). Exit status 0 when every gate passes, 1 "
        "otherwise.",
    )
    calibrate.add_argument(
        "env",
        nargs="?",
        metavar="ENV",
        help="a registered env id, or package.module:attr for your own env class or "
        "factory (docs/custom_envs.md); with --from, only its trials (default: all)",
    )
    calibrate.add_argument(
        "--env-config",
        metavar="JSON",
        help="the env's keyword arguments as a JSON object, e.g. '{\"p\": 0.1}'",
    )
    calibrate.add_argument(
        "--stop-timesteps", type=int, metavar="N", help="env steps per trial (default 200000)"
    )
    calibrate.add_argument(
        "--seeds", type=int, nargs="+", metavar="SEED", help="training seeds (default 0 1 2)"
    )
    calibrate.add_argument(
        "--episodes",
        type=int,
        default=100,
        metavar="N",
        help="greedy episodes per checkpoint (default 100)",
    )
    calibrate.add_argument(
        "--eval-seed",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of those episodes (default 0)",
    )
    calibrate.add_argument(
        "--output", type=Path, metavar="DIR", help="where the Tune run goes (default: results)"
    )
    calibrate.add_argument(
        "--from",
        dest="from_dirs",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="judge the oracle and markov_ppo trials of these Tune results directories "
        "instead of training (e.g. a calibration YAML's, tune_configs/calibration/)",
    )


def run_calibrate(args: argparse.Namespace) -> int:
    """``rllib-dynamite calibrate``."""
    env_config = _env_config(args.env_config)
    if args.episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {args.episodes}")
    if args.from_dirs:
        training = [flag for flag, value in _training_flags(args) if value is not None]
        if training:
            raise ValueError(
                f"--from judges trained trials: {', '.join(training)} are for training"
            )
        return _judge_results(args, env_config)
    if args.env is None:
        raise ValueError("calibrate needs ENV, or --from DIR ... for trials already trained")
    if args.stop_timesteps is not None and args.stop_timesteps <= 0:
        raise ValueError(f"--stop-timesteps must be > 0, got {args.stop_timesteps}")
    from rllib_dynamite.calibration.run import DEFAULT_SEEDS, DEFAULT_STOP_TIMESTEPS, calibrate

    try:
        report = calibrate(
            args.env,
            env_config=env_config,
            stop_timesteps=args.stop_timesteps or DEFAULT_STOP_TIMESTEPS,
            seeds=tuple(args.seeds) if args.seeds else DEFAULT_SEEDS,
            episodes=args.episodes,
            output=args.output or DEFAULT_OUTPUT,
            evaluation_seed=args.eval_seed,
        )
    except RuntimeError as error:  # a trial failed: not a bad argument
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0 if report.passed else 1


def _judge_results(args: argparse.Namespace, env_config: dict[str, Any] | None) -> int:
    from rllib_dynamite.calibration.run import calibrate_results

    reports = calibrate_results(
        args.from_dirs,
        env=args.env,
        env_config=env_config,
        episodes=args.episodes,
        evaluation_seed=args.eval_seed,
    )
    for report in reports:
        print("\n".join(report.lines()))
    return 0 if all(report.passed for report in reports) else 1


def _training_flags(args: argparse.Namespace) -> list[tuple[str, Any]]:
    return [
        ("--stop-timesteps", args.stop_timesteps),
        ("--seeds", args.seeds),
        ("--output", args.output),
    ]


def _env_config(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"--env-config must be a JSON object, e.g. '{{\"p\": 0.1}}', got {text!r}")
    return value


CALIBRATE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"calibrate": run_calibrate}
