"""Play the final checkpoint of every trial of a study: the loop the diagnostics of
trained policies share (``diagnose beliefs``, ``belief-steps``, ``belief-use``,
``velocity``).

Each trial of ``rllib-dynamite tune`` results directories (:func:`load_trials`) has its
final checkpoint (:func:`find_checkpoint`) play the same seeded greedy episodes
(``Evaluator``); a measurement turns the evaluator and its report into one row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rllib_dynamite.evaluation import EvaluationReport, Evaluator
from rllib_dynamite.evaluation.checkpoints import find_checkpoint
from rllib_dynamite.study_files import load_trials
from rllib_dynamite.trials import Trial

# A measurement: one trial's row from its evaluator and its first greedy report; it may
# evaluate again (other modes, sampled actions) on the same evaluator.
Measure = Callable[[Trial, Evaluator, EvaluationReport], dict[str, float]]


class TrialSkipped(Exception):
    """Raised by a measurement that does not apply to a trial (e.g. no belief model)."""


@dataclass
class TrialRow:
    """One trial's measurements, or why it has none (``skipped``)."""

    trial: Trial
    row: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def name(self) -> str:
        return self.trial.path.name


@contextmanager
def checkpoint_evaluator(path: str | Path, seed: int) -> Iterator[Evaluator]:
    """An ``Evaluator`` of the checkpoint at or under ``path`` (:func:`find_checkpoint`),
    its envs seeded by ``seed``; stopped on exit."""
    evaluator = Evaluator.from_checkpoint(find_checkpoint(path), seed=seed)
    try:
        yield evaluator
    finally:
        evaluator.stop()


def play_trials(
    results: Iterable[str | Path],
    measure: Measure,
    episodes: int = 25,
    seed: int = 0,
    keep: Callable[[Trial], bool] | None = None,
) -> Iterator[TrialRow]:
    """For each trial under ``results`` that ``keep`` accepts (default: all), its final
    checkpoint plays ``episodes`` greedy episodes seeded by ``seed`` and ``measure`` makes
    its row. A trial without a checkpoint (unfinished) is skipped, as is one whose
    measurement raises :class:`TrialSkipped`.

    Raises:
        FileNotFoundError: a missing directory, or no trial under them.
    """
    if episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {episodes}")
    for trial in load_trials(results):
        if keep is not None and not keep(trial):
            continue
        try:
            checkpoint = find_checkpoint(trial.path)
        except FileNotFoundError as error:
            yield TrialRow(trial, skipped=str(error))
            continue
        try:
            with checkpoint_evaluator(checkpoint, seed) as evaluator:
                report = evaluator.evaluate(episodes, with_figure=False)
                row = measure(trial, evaluator, report)
        except TrialSkipped as reason:
            yield TrialRow(trial, skipped=str(reason))
            continue
        yield TrialRow(trial, row)


def print_rows(
    rows: Iterable[TrialRow], header: list[str], cell: Callable[[float], str]
) -> list[TrialRow]:
    """Print ``trial | <header>`` and one line per trial as it comes (``cell`` formats
    each value, NaN for a missing one); return the rows."""
    print(" | ".join(["trial", *header]))
    printed = []
    for row in rows:
        if row.skipped is not None:
            print(f"{row.name} | skipped: {row.skipped}")
        else:
            values = (cell(row.row.get(key, math.nan)) for key in header)
            print(" | ".join([row.name, *values]), flush=True)
        printed.append(row)
    return printed
