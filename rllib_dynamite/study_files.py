"""A study's files: its trials read from Tune results directories and study summaries,
and the summaries written (docs/results_data/README.md).

A trial directory holds Tune's ``params.json`` (the trial config: env, preset,
settings), ``progress.csv`` and ``result.json`` (evaluation results only appear there:
Tune's CSV columns are fixed by the first iteration).

A study summary (``rllib-dynamite summarize``) holds a study's trials in one Parquet
file, read wherever a results directory is: one row per iteration (``record`` =
``iteration``: the columns of :data:`SUMMARY_COLUMNS`) and one per evaluation
(``record`` = ``evaluation``: every scalar ``evaluation/*`` metric and the episode
returns), each with its trial's identity (:data:`TRIAL_COLUMNS`: the flattened
``params.json`` as JSON in ``params``). Returns and evaluation metrics stay float64, so
a table read from a summary is the table read from its directories; the other iteration
columns are float32.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from rllib_dynamite.trials import SEED_KEY, STEPS, TIME_TOTAL, TRAINING_RETURN, Trial

SUMMARY_SUFFIX = ".parquet"
# A summary's iteration columns: the curves docs/results.md draws and the per-iteration
# diagnostics it cites (docs/usage.md); `summarize --columns` adds others.
SUMMARY_COLUMNS = (
    STEPS,
    TRAINING_RETURN,
    TIME_TOTAL,
    "learners/default_policy/entropy",
    "learners/default_policy/vae_kl_loss",
    "learners/default_policy/vae_consistency_loss",
    "learners/default_policy/vae_termination_loss",
)
# A trial's columns, the same on each of its rows; ``columns`` lists the iteration and
# evaluation columns it has.
TRIAL_COLUMNS = ("study", "trial", "trial_id", "env", "preset", "seed", "params", "commit",
                 "date", "columns")  # fmt: skip
RECORD = "record"
EPISODE_RETURNS = "evaluation/episode_returns"


def load_trials(results_dirs: str | Path | Iterable[str | Path]) -> list[Trial]:
    """Every trial directory under each of ``results_dirs`` (searched recursively), and
    every trial of each study summary (a ``.parquet`` file) among them.

    A trial reached twice (nested arguments) is read once; use
    :func:`~rllib_dynamite.trials.merge_trials` for the same configuration run twice.

    Raises:
        FileNotFoundError: no such directory or summary, or no trial with results there.
        ValueError: a ``.parquet`` file that is not a study summary.
    """
    if isinstance(results_dirs, str | Path):
        results_dirs = [results_dirs]
    paths = [Path(d) for d in results_dirs]
    for path in paths:
        if not path.is_dir() and not (path.is_file() and path.suffix == SUMMARY_SUFFIX):
            raise FileNotFoundError(f"no such results directory or study summary: {path}")
    trials, seen = [], set()
    for path in paths:
        if path.is_file():
            for trial in read_summary(path):
                if trial.path.resolve() not in seen:
                    seen.add(trial.path.resolve())
                    trials.append(trial)
            continue
        for params in sorted(path.rglob("params.json")):
            trial_dir = params.parent.resolve()
            progress_file = trial_dir / "progress.csv"
            if trial_dir in seen or not progress_file.is_file():
                continue
            if progress_file.stat().st_size == 0:
                continue
            config = _flatten(json.loads(params.read_text()))
            if "env" not in config or "preset" not in config:
                continue
            seen.add(trial_dir)
            progress = pd.read_csv(progress_file)
            evaluations, episode_returns = _evaluations(trial_dir / "result.json")
            started = _iso_date(progress["date"].iloc[0]) if "date" in progress else None
            trials.append(
                Trial(params.parent, config, progress, evaluations, episode_returns, started)
            )
    if not trials:
        names = ", ".join(str(d) for d in paths)
        raise FileNotFoundError(f"no trial results (params.json + progress.csv) under {names}")
    return trials


def write_summary(
    trials: Sequence[Trial],
    out: str | Path,
    commit: str | None = None,
    columns: Iterable[str] = (),
) -> Path:
    """Write ``trials`` to the study summary ``out`` (module docstring); return its path.

    ``commit``: the git commit the trials ran at, kept with each trial. ``columns``:
    iteration columns (names, or patterns such as ``learners/default_policy/*``) to keep
    beside :data:`SUMMARY_COLUMNS`.

    Raises:
        ValueError: two trials of one name in one study (a summary tells trials apart
            by the names of their directory and its parent).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = [(trial.path.parent.name, trial.path.name) for trial in trials]
    twice = next((key for key in keys if keys.count(key) > 1), None)
    if twice:
        raise ValueError(f"two trials named {'/'.join(twice)}: summarise them separately")
    patterns = [*SUMMARY_COLUMNS, *columns]
    frames = []
    for trial in trials:
        progress = trial.progress
        kept = [
            c for c in progress
            if any(fnmatch(c, p) for p in patterns)
            and not c.startswith("evaluation/")  # evaluations come from result.json
            and is_numeric_dtype(progress[c])
        ]  # fmt: skip
        evaluations = trial.evaluations.assign(
            **{EPISODE_RETURNS: trial.evaluation_episode_returns, RECORD: "evaluation"}
        )
        frame = pd.concat([progress[kept].assign(**{RECORD: "iteration"}), evaluations])
        first = progress.iloc[0] if len(progress) else pd.Series()
        seed = trial.config.get(SEED_KEY)
        identity = {
            "study": trial.path.parent.name,
            "trial": trial.path.name,
            "trial_id": first.get("trial_id"),
            "env": trial.env,
            "preset": str(trial.config["preset"]),
            "seed": seed if _is_number(seed) else None,
            "params": json.dumps(trial.config, sort_keys=True, default=str),
            "commit": commit,
            "date": _iso_date(first.get("date")),
            "columns": json.dumps({"iteration": kept, "evaluation": list(trial.evaluations)}),
        }
        frames.append(
            frame.assign(**{key: [value] * len(frame) for key, value in identity.items()})
        )
    frame = pd.concat(frames, ignore_index=True)
    # Iteration rows have no episode returns (NaN after the concat; null in the file).
    frame[EPISODE_RETURNS] = [r if isinstance(r, list) else None for r in frame[EPISODE_RETURNS]]
    leading = (*TRIAL_COLUMNS, RECORD)
    names = [*leading, *(c for c in frame if c not in leading)]
    types = {name: _summary_type(name) for name in names}
    arrays = [pa.array(frame[name], type=types[name], from_pandas=True) for name in names]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Dictionaries pay for the repeated trial columns only; split float bytes compress
    # the noisy float32 curves better.
    pq.write_table(
        pa.Table.from_arrays(arrays, names=names),
        out,
        compression="zstd",
        compression_level=19,
        use_dictionary=[name for name, kind in types.items() if kind == pa.string()],
        use_byte_stream_split=[name for name, kind in types.items() if kind == pa.float32()],
    )
    return out


def _summary_type(column: str) -> Any:
    """The Parquet type of a summary column: float64 for what a table prints."""
    import pyarrow as pa

    if column == "seed":
        return pa.int64()
    if column in (*TRIAL_COLUMNS, RECORD):
        return pa.string()
    if column == EPISODE_RETURNS:
        return pa.list_(pa.float32())
    if column in (STEPS, TRAINING_RETURN) or column.startswith("evaluation/"):
        return pa.float64()
    return pa.float32()


def read_summary(path: Path) -> list[Trial]:
    """The trials of a study summary as :func:`load_trials` reads them from their
    directories: the columns a trial has, iteration columns widened to float64."""
    import pyarrow.parquet as pq

    frame = pq.read_table(path).to_pandas()
    missing = [c for c in (*TRIAL_COLUMNS, RECORD, STEPS) if c not in frame]
    if missing:
        raise ValueError(f"{path} is not a study summary: it has no column {missing[0]!r}")
    trials = []
    for (study, name), rows in frame.groupby(["study", "trial"], sort=False):
        columns = json.loads(rows["columns"].iloc[0])
        iterations = rows[rows[RECORD] == "iteration"]
        progress = iterations[columns["iteration"]].astype(np.float64).reset_index(drop=True)
        evaluated = rows[rows[RECORD] == "evaluation"]
        evaluations = evaluated[columns["evaluation"]].reset_index(drop=True)
        if evaluated.empty:  # as a directory without evaluations reads
            evaluations = pd.DataFrame()
        returns = evaluated[EPISODE_RETURNS] if EPISODE_RETURNS in evaluated else []
        trials.append(Trial(
            path / study / name,
            json.loads(rows["params"].iloc[0]),
            progress,
            evaluations,
            [[float(r) for r in episode] for episode in returns],
            rows["date"].iloc[0] or None,
        ))  # fmt: skip
    return trials


def _iso_date(text: Any) -> str | None:
    """Tune's ``2026-12-06_08-10-41`` as ``2026-12-06T08:10:41``."""
    if not isinstance(text, str):
        return None
    day, _, time = text.partition("_")
    return f"{day}T{time.replace('-', ':')}" if time else day


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _evaluations(result_file: Path) -> tuple[pd.DataFrame, list[list[float]]]:
    """Scalar evaluation metrics of every evaluation in ``result.json`` (one row each,
    with the env steps), and each one's episode returns."""
    rows: list[dict[str, float]] = []
    returns: list[list[float]] = []
    if result_file.is_file():
        with result_file.open() as lines:
            for line in lines:
                if '"evaluation"' not in line:
                    continue
                result = json.loads(line)
                evaluation = result.get("evaluation") or {}
                row = {f"evaluation/{k}": v for k, v in evaluation.items() if _is_number(v)}
                rows.append({STEPS: result.get(STEPS, np.nan), **row})
                returns.append([float(r) for r in evaluation.get("episode_returns", [])])
    return pd.DataFrame(rows), returns


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
