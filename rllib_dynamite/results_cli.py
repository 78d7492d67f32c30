"""The ``evaluate``, ``plot`` and ``summarize`` subcommands of ``rllib-dynamite``: what
is done with a run once it has run (docs/usage.md).

:func:`add_results_commands` adds them to the main parser's subcommands and
:data:`RESULTS_COMMANDS` maps their names to handlers, each returning an exit status. A
missing path or a bad value raises ``ValueError``/``FileNotFoundError``, which the main
CLI prints as one ``error: ...`` line with status 2. Imports here stay light: the
evaluator (Ray, torch), matplotlib and pandas load inside the handlers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rllib_dynamite.experiments.cli import name_list


def add_results_commands(commands: Any) -> None:
    """Add ``evaluate``, ``plot`` and ``summarize`` to ``commands``
    (``parser.add_subparsers()``)."""
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
        type=name_list("settings", "normalize_observations,env_config/p"),
        default=(),
        metavar="SETTING[,SETTING]",
        help="settings whose values do not split a method's trials into groups, for trials "
        "known to have run alike, e.g. normalize_observations where one file set the value "
        "that later became the env's default (a trial records what its file set, not the "
        "defaults it ran under)",
    )

    plot.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="leave out the trials that set SETTING to VALUE, e.g. consistency_weight=0.05 "
        "(repeatable; trials that left it to its default stay)",
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
        type=name_list("columns", "learners/default_policy/*"),
        default=(),
        metavar="COLUMN[,COLUMN]",
        help="progress.csv columns to keep beside the default ones (names or patterns, "
        "e.g. 'learners/default_policy/*')",
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """``rllib-dynamite evaluate``."""
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


def run_plot(args: argparse.Namespace) -> int:
    """``rllib-dynamite plot``."""
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
        exclude=args.exclude,
    )
    print(table)
    print(f"figure: {figure_path}\ntable:  {table_path}")
    return 0


def run_summarize(args: argparse.Namespace) -> int:
    """``rllib-dynamite summarize``."""
    from rllib_dynamite.study_files import load_trials, write_summary

    trials = load_trials(args.results)
    out = write_summary(trials, args.out, commit=args.commit, columns=args.columns)
    print(f"{out}: {len(trials)} trial(s), {out.stat().st_size / 1024:,.0f} KiB")
    return 0


RESULTS_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "evaluate": run_evaluate,
    "plot": run_plot,
    "summarize": run_summarize,
}
