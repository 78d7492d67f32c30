"""``rllib-dynamite``: train, sweep, evaluate, plot, list envs (docs/usage.md).

Every subcommand has ``--help``. A bad setting, a bad file or a missing path prints one
line ``error: ...`` and exits with status 2, before Ray starts. Each group of
subcommands lives beside the code it runs and adds itself here through its
``add_..._commands(subparsers)`` hook and its name → handler table.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rllib_dynamite.analysis.cli import DIAGNOSE_COMMANDS, add_diagnose_commands
from rllib_dynamite.calibration.cli import CALIBRATE_COMMANDS, add_calibrate_command
from rllib_dynamite.experiments.cli import EXPERIMENT_COMMANDS, add_experiment_commands
from rllib_dynamite.offline.cli import OFFLINE_COMMANDS, add_offline_commands
from rllib_dynamite.results_cli import RESULTS_COMMANDS, add_results_commands

# Ray's dashboard/usage banners and log de-duplication notes are noise on a console
# that prints one line per iteration.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rllib-dynamite",
        description="DynaMITE-RL on Ray RLlib: train, sweep, evaluate and plot.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_experiment_commands(commands)
    add_results_commands(commands)
    commands.add_parser("envs", help="list the registered envs and their defaults")
    add_offline_commands(commands)
    add_diagnose_commands(commands)
    add_calibrate_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rllib-dynamite``; returns the exit status."""
    args = _parser().parse_args(argv)
    # An env given as "module:attr" is imported from the current directory, as with
    # `python -m`; the console script's own sys.path does not hold it.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    from rllib_dynamite.settings import ConfigError

    command = {
        **EXPERIMENT_COMMANDS,
        **RESULTS_COMMANDS,
        "envs": _envs,
        **OFFLINE_COMMANDS,
        **DIAGNOSE_COMMANDS,
        **CALIBRATE_COMMANDS,
    }[args.command]
    try:
        status = command(args)
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
        return status
    except (ConfigError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout left (`rllib-dynamite plot ... | head`): stop quietly, as
        # a Unix filter does, and keep Python's exit-time flush from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # killed by SIGPIPE, as the shell reports it


def _envs(args: argparse.Namespace) -> int:
    from rllib_dynamite.envs import ENV_IDS, env_class, env_defaults

    for env_id in ENV_IDS:
        summary = (env_class(env_id).__doc__ or "").strip().splitlines()[0].replace("``", "")
        defaults = ", ".join(f"{k}={v!r}" for k, v in env_defaults(env_id).items())
        print(f"{env_id}\n  {summary}\n  defaults: {defaults}")
    return 0
