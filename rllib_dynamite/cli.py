"""``rllib-dynamite``: train, sweep, evaluate, plot, list envs (docs/usage.md).

Every subcommand has ``--help``. A bad setting, a bad file or a missing path prints one
line ``error: ...`` and exits with status 2, before Ray starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from rllib_dynamite.analysis.cli import DIAGNOSE_COMMANDS, add_diagnose_commands
from rllib_dynamite.calibration.cli import CALIBRATE_COMMANDS, add_calibrate_command
from rllib_dynamite.offline.cli import OFFLINE_COMMANDS, add_offline_commands

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
        type=_preset_list,
        help="run only these of the file's presets, e.g. no_consistency (results in "
        "OUTPUT/NAME-no_consistency[-seeds-...])",
    )
    tune.add_argument(
        "--grid",
        metavar="KEY=V1[,V2...]",
        help="run only these values of one of the file's grids, e.g. p=1.0 for "
        "settings.env_config.p (results in OUTPUT/NAME[-...]-p-1.0)",
    )
    _add_ray_arguments(tune)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a checkpoint",
        description="Greedy evaluation episodes of a checkpoint: mean return, return per "
        "session, steps to adapt after a switch, termination-head precision/recall.",
    )
    evaluate.add_argument("checkpoint", type=Path, help="checkpoint, or a run/trial directory")
    evaluate.add_argument("--episodes", type=int, default=25, help="default: 25")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the evaluation envs")
    evaluate.add_argument("--json", type=Path, help="write the metrics to this JSON file")
    evaluate.add_argument("--figure", type=Path, help="save the belief picture (PNG)")
    evaluate.add_argument(
        "--explore", action="store_true", help="sample actions from the policy (default: greedy)"
    )

    plot = commands.add_parser(
        "plot",
        help="figures and the summary tables of a study from results directories",
        description="Learning curves (mean ± std over seeds), an ablation chart or a "
        "p-sweep box plot, plus Markdown tables (printed and saved beside --out as .md): "
        "final return per method with a 95%% interval over seeds, the reference preset "
        "minus each baseline (Welch), and with --threshold the env steps to reach a "
        "return. The trials of every directory and summary are merged; of a configuration "
        "and seed run twice, the longer run is kept.",
    )
    plot.add_argument(
        "results",
        type=Path,
        nargs="+",
        help="results directories (searched recursively) or study summaries (.parquet files "
        "of `rllib-dynamite summarize`)",
    )
    plot.add_argument("--out", type=Path, required=True, help="PNG to write")
    plot.add_argument("--kind", choices=("curves", "ablation", "p-sweep"), default="curves")
    plot.add_argument(
        "--metric",
        default="env_runners/episode_return_mean",
        help="progress.csv column or evaluation/<metric> for curves, e.g. "
        "learners/default_policy/entropy (default: env_runners/episode_return_mean)",
    )
    plot.add_argument(
        "--at-steps",
        type=float,
        metavar="N",
        help="read every trial at its last point at or before N env steps (trials that "
        "stopped before N are left out)",
    )
    plot.add_argument(
        "--threshold",
        type=float,
        metavar="R",
        help="also report env steps to first reach a return of R (censored if never)",
    )
    plot.add_argument(
        "--reference",
        default="dynamite",
        metavar="PRESET",
        help="preset compared with each baseline (default: dynamite)",
    )
    plot.add_argument(
        "--same",
        type=_setting_list,
        default=(),
        metavar="SETTING[,SETTING]",
        help="settings whose values do not split a method's trials into groups, for trials "
        "known to have run alike, e.g. normalize_observations where one file set the value "
        "that later became the env's default (a trial records what its file set, not the "
        "defaults it ran under)",
    )

    summarize = commands.add_parser(
        "summarize",
        help="write the trials of results directories to one compact file `plot` reads",
        description="A study summary: every trial of the directories (params, and per "
        "iteration env steps, returns, time and a few diagnostics; per evaluation every "
        "evaluation/<metric> and the episode returns) in one Parquet file, which `plot` "
        "reads wherever it reads a results directory, with the same figures and tables "
        "(docs/results_data/README.md).",
    )
    summarize.add_argument(
        "results", type=Path, nargs="+", help="results directories (searched recursively)"
    )
    summarize.add_argument(
        "--out", type=Path, required=True, help="file to write, e.g. STUDY_DATE_COMMIT.parquet"
    )
    summarize.add_argument("--commit", help="the git commit the trials ran at, kept with each")
    summarize.add_argument(
        "--columns",
        type=_name_list("columns", "learners/default_policy/*"),
        default=(),
        metavar="COLUMN[,COLUMN]",
        help="progress.csv columns to keep beside the default ones (names or patterns, "
        "e.g. 'learners/default_policy/*')",
    )

    commands.add_parser("envs", help="list the registered envs and their defaults")
    add_offline_commands(commands)
    add_diagnose_commands(commands)
    add_calibrate_command(commands)
    return parser


def _add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="Ray cluster address (default: embedded local Ray)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Ray's own output")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rllib-dynamite``; returns the exit status."""
    args = _parser().parse_args(argv)
    # An env given as "module:attr" is imported from the current directory, as with
    # `python -m`; the console script's own sys.path does not hold it.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    from rllib_dynamite.settings import ConfigError

    command = {
        "train": _train,
        "tune": _tune,
        "evaluate": _evaluate,
        "plot": _plot,
        "summarize": _summarize,
        "envs": _envs,
        **OFFLINE_COMMANDS,
        **DIAGNOSE_COMMANDS,
        **CALIBRATE_COMMANDS,
    }[args.command]
    try:
        return command(args)
    except (ConfigError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# -- train -----------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
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
    """The run's final greedy evaluation next to scripted references on the same seeded
    episodes (random, the best memoryless policy, an oracle that reads the true latent),
    for envs that have them (the gridworlds, Reacher, HalfCheetahVel without an oracle:
    rllib_dynamite/evaluation/scripted.py); on a gridworld also what a belief can reach
    (a Bayes-filter goal search; the exact Bayes optimum with two goals)."""
    from rllib_dynamite.envs import make
    from rllib_dynamite.evaluation.bayes import belief_references
    from rllib_dynamite.evaluation.scripted import scripted_references
    from rllib_dynamite.experiments.trainable import EVALUATION_SEED_OFFSET

    if math.isnan(evaluation_return):
        return
    env = make(experiment.env, **experiment.settings.get("env_config", {}))
    episodes, seed = experiment.evaluation_episodes, experiment.seeds[0] + EVALUATION_SEED_OFFSET
    try:
        references = scripted_references(env, episodes, seed)
        try:  # what a belief can reach (GridNavi only; docs/results.md)
            beliefs = belief_references(env, episodes, seed)
        except ValueError:
            beliefs = {}
    except ValueError:
        return  # no scripted references for this env
    finally:
        env.close()
    line = [f"{experiment.presets[0]} {evaluation_return:.2f}"]
    line += [f"scripted {name} {reference.mean:.2f}" for name, reference in references.items()]
    line += [f"belief {name} {value:.2f}" for name, value in beliefs.items()]
    print(f"greedy evaluation, the same {episodes} episodes for each: " + " | ".join(line))


# -- tune ------------------------------------------------------------------------------
def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds must be integers like 0,1,2, got {text!r}"
        ) from None
    return seeds


def _name_list(what: str, example: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: comma-separated names, at least one."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        if not names:
            raise argparse.ArgumentTypeError(f"{what} must be names like {example}, got {text!r}")
        return names

    return parse


_preset_list = _name_list("presets", "dynamite,varibad")
_setting_list = _name_list("settings", "normalize_observations,env_config/p")


def _tune(args: argparse.Namespace) -> int:
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
    if args.grid is not None:
        experiment = _restrict_grid(experiment, args.grid)
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


# -- evaluate --------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace) -> int:
    from rllib_dynamite.evaluation import Evaluator, write_json
    from rllib_dynamite.evaluation.checkpoints import find_checkpoint

    checkpoint = find_checkpoint(args.checkpoint)
    if args.episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {args.episodes}")
    mode = "sampled" if args.explore else "greedy"
    print(f"evaluating {checkpoint}: {args.episodes} episodes, {mode} actions")
    evaluator = Evaluator.from_checkpoint(checkpoint, seed=args.seed)
    try:
        report = evaluator.evaluate(
            args.episodes, with_figure=args.figure is not None, explore=args.explore
        )
    finally:
        evaluator.stop()
    for key, value in report.metrics.items():
        if not isinstance(value, list):
            print(
                f"  {key:<34} {value:.4g}" if isinstance(value, float) else f"  {key:<34} {value}"
            )
    if args.json:
        print(f"metrics: {write_json(report, args.json, str(checkpoint))}")
    if args.figure:
        if report.figure is None:
            print("no belief picture: this policy has no belief model")
        else:
            args.figure.parent.mkdir(parents=True, exist_ok=True)
            report.figure.savefig(args.figure, dpi=100)
            print(f"belief picture: {args.figure}")
    return 0


# -- plot ------------------------------------------------------------------------------
def _plot(args: argparse.Namespace) -> int:
    from rllib_dynamite import plotting

    figure_path, table_path, table = plotting.plot(
        args.results,
        args.out,
        kind=args.kind,
        metric=args.metric,
        at_steps=args.at_steps,
        threshold=args.threshold,
        reference=args.reference,
        same=args.same,
    )
    print(table)
    print(f"figure: {figure_path}\ntable:  {table_path}")
    return 0


# -- summarize -------------------------------------------------------------------------
def _summarize(args: argparse.Namespace) -> int:
    from rllib_dynamite.trials import load_trials, write_summary

    trials = load_trials(args.results)
    out = write_summary(trials, args.out, commit=args.commit, columns=args.columns)
    print(f"{out}: {len(trials)} trial(s), {out.stat().st_size / 1024:,.0f} KiB")
    return 0


# -- envs ------------------------------------------------------------------------------
def _envs(args: argparse.Namespace) -> int:
    from rllib_dynamite.envs import ENV_IDS, env_class, env_defaults

    for env_id in ENV_IDS:
        summary = (env_class(env_id).__doc__ or "").strip().splitlines()[0].replace("``", "")
        defaults = ", ".join(f"{k}={v!r}" for k, v in env_defaults(env_id).items())
        print(f"{env_id}\n  {summary}\n  defaults: {defaults}")
    return 0
