"""Tune trials read back from results directories, merged and grouped (docs/usage.md).

A trial is a directory with Tune's ``params.json`` (the trial config: env, preset,
settings), ``progress.csv`` and ``result.json`` (evaluation results only appear there:
Tune's CSV columns are fixed by the first iteration). Several results directories (a
study run in several parts, or a rerun of one seed) merge into one set of trials;
trials are then grouped by every config value that differs between them except the
seed and the run plan (budget, evaluation schedule), so seeds become the spread of a
group.

A study summary (``rllib-dynamite summarize``, docs/results_data/README.md) holds a
study's trials in one Parquet file, read wherever a results directory is: one row per
iteration (``record`` = ``iteration``: the columns of :data:`SUMMARY_COLUMNS`) and one
per evaluation (``record`` = ``evaluation``: every scalar ``evaluation/*`` metric and
the episode returns), each with its trial's identity (:data:`TRIAL_COLUMNS`: the
flattened ``params.json`` as JSON in ``params``). Returns and evaluation metrics stay
float64, so a table read from a summary is the table read from its directories; the
other iteration columns are float32.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from rllib_dynamite.envs import env_defaults
from rllib_dynamite.settings import SETTING_TYPES, ConfigError, _closest

STEPS = "num_env_steps_sampled_lifetime"
TRAINING_RETURN = "env_runners/episode_return_mean"
EVALUATION_RETURN = "evaluation/episode_return_mean"
# How long a trial ran and how often it was evaluated: not part of what a trial is, so
# a longer rerun of the same configuration and seed replaces the shorter one.
RUN_PLAN_KEYS = ("stop_timesteps", "evaluation_interval", "evaluation_episodes")
SEED_KEY = "settings/seed"
ENV_CONFIG_PREFIX = "settings/env_config/"

SUMMARY_SUFFIX = ".parquet"
# A summary's iteration columns: the curves docs/results.md draws and the per-iteration
# diagnostics it cites (docs/usage.md); `summarize --columns` adds others.
SUMMARY_COLUMNS = (
    STEPS,
    TRAINING_RETURN,
    "time_total_s",
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


@dataclass
class Trial:
    """One trial's config (flattened with ``/``), progress, evaluations (one row per
    evaluation, columns ``evaluation/<metric>``) and each evaluation's episode returns."""

    path: Path
    config: dict[str, Any]
    progress: pd.DataFrame
    evaluations: pd.DataFrame
    evaluation_episode_returns: list[list[float]]

    @property
    def env(self) -> str:
        return str(self.config["env"])

    @property
    def p(self) -> float:
        """The session switch probability; NaN for an env without a ``p`` argument."""
        value = _setting(self, ENV_CONFIG_PREFIX + "p")
        return float("nan") if value == "default" else float(value)

    @property
    def last_step(self) -> float:
        """Env steps sampled by the trial's last iteration."""
        steps = self.progress[STEPS].dropna() if STEPS in self.progress else pd.Series()
        return float(steps.max()) if len(steps) else 0.0

    def has(self, metric: str) -> bool:
        frame = self.evaluations if metric.startswith("evaluation/") else self.progress
        return metric in frame.columns

    def series(self, metric: str, at_steps: float | None = None) -> pd.DataFrame:
        """``[STEPS, metric]`` rows where ``metric`` was reported, up to ``at_steps``."""
        frame = self.evaluations if metric.startswith("evaluation/") else self.progress
        columns = list(dict.fromkeys([STEPS, metric]))
        if not set(columns) <= set(frame.columns):
            return pd.DataFrame(columns=columns)
        rows = frame[columns].dropna()
        return rows if at_steps is None else rows[rows[STEPS] <= at_steps]

    def episode_returns(self, at_steps: float | None = None) -> list[float]:
        """Episode returns of the last evaluation at or before ``at_steps``."""
        steps = self.evaluations.get(STEPS, pd.Series(dtype=float)).to_numpy(float)
        chosen = []
        for step, returns in zip(steps, self.evaluation_episode_returns, strict=True):
            if at_steps is None or step <= at_steps:
                chosen = returns
        return list(chosen)

    def final(self, metric: str, at_steps: float | None = None) -> float:
        values = self.series(metric, at_steps)[metric]
        return float(values.iloc[-1]) if len(values) else float("nan")

    def return_series(self, at_steps: float | None = None) -> tuple[pd.DataFrame, str]:
        """The trial's return curve ``[STEPS, return]`` up to ``at_steps``, and its source.

        The source is the greedy evaluation (``evaluation/episode_return_mean``) where
        the trial has one up to ``at_steps``, else the training return.
        """
        evaluations = self.series(EVALUATION_RETURN, at_steps)
        if len(evaluations):
            explore = bool(self.config.get("evaluation_explore", False))
            source = "sampled evaluation" if explore else "evaluation"
            return evaluations.set_axis([STEPS, "return"], axis=1), source
        training = self.series(TRAINING_RETURN, at_steps)
        return training.set_axis([STEPS, "return"], axis=1), "training"


def load_trials(results_dirs: str | Path | Iterable[str | Path]) -> list[Trial]:
    """Every trial directory under each of ``results_dirs`` (searched recursively), and
    every trial of each study summary (a ``.parquet`` file) among them.

    A trial reached twice (nested arguments) is read once; use :func:`merge_trials` for
    the same configuration run twice.

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
            for trial in _read_summary(path):
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
            trials.append(Trial(params.parent, config, progress, evaluations, episode_returns))
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


def _read_summary(path: Path) -> list[Trial]:
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
        ))  # fmt: skip
    return trials


def _iso_date(text: Any) -> str | None:
    """Tune's ``2026-12-06_08-10-41`` as ``2026-12-06T08:10:41``."""
    if not isinstance(text, str):
        return None
    day, _, time = text.partition("_")
    return f"{day}T{time.replace('-', ':')}" if time else day


def merge_trials(trials: list[Trial]) -> tuple[list[Trial], list[str]]:
    """One trial per configuration and seed: of a pair, the one that ran more env steps.

    Returns the kept trials (in their order) and one note per dropped trial.
    """
    by_identity: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        by_identity[_identity(trial)].append(trial)
    kept, notes = [], []
    for same in by_identity.values():
        longest = max(same, key=lambda t: t.last_step)
        kept.append(longest)
        for dropped in same:
            if dropped is not longest:
                notes.append(
                    f"{describe(longest)} ran twice: kept {longest.path} "
                    f"({longest.last_step:,.0f} env steps), dropped {dropped.path} "
                    f"({dropped.last_step:,.0f})"
                )
    order = {id(t): i for i, t in enumerate(trials)}
    return sorted(kept, key=lambda t: order[id(t)]), notes


def group_trials(
    trials: list[Trial], same: Iterable[str] = ()
) -> dict[str, dict[str, list[Trial]]]:
    """``{env: {label: trials}}``; a label is the preset, then the config values that
    tell an env's groups apart (``dynamite, p=0.2``). An env argument a trial left out
    reads as the env's default, so a run that left ``p`` at its default and one that
    set it to that value group together; any other value left to its default reads
    ``default`` (``dynamite, consistency_reduction=default``): a trial records the
    settings its file set, not the defaults it ran under, which may have changed since.

    ``same``: settings (``normalize_observations``, ``env_config/p``) whose values do not
    tell groups apart, for trials the user knows ran alike (e.g. one file set a value
    that later became the default another file's trials ran under)."""
    ignored = {f"settings/{_setting_name(key)}" for key in same}
    by_env: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        by_env[trial.env].append(trial)
    return {env: _group_by_label(env_trials, ignored) for env, env_trials in by_env.items()}


def _setting_name(key: str) -> str:
    """``key`` without a ``settings/`` prefix; ``ConfigError`` unless it names a
    DynamiteSettings field or an env argument (``env_config/<name>``)."""
    name = key.removeprefix("settings/")
    if not name.startswith("env_config/"):
        if name not in SETTING_TYPES:
            raise ConfigError(f"--same: unknown setting {name!r}{_closest(name, SETTING_TYPES)}")
    return name


def _group_by_label(trials: list[Trial], same: set[str]) -> dict[str, list[Trial]]:
    ignored = {SEED_KEY, "env", "preset", *RUN_PLAN_KEYS, *same}
    keys = {k for t in trials for k in t.config} - ignored
    values = [{key: _setting(t, key) for key in keys} for t in trials]
    varying = sorted(
        key for key in keys
        if len({json.dumps(v[key], sort_keys=True, default=str) for v in values}) > 1
    )  # fmt: skip
    presets = list(dict.fromkeys(str(t.config["preset"]) for t in trials))
    by_label: dict[str, list[Trial]] = defaultdict(list)
    order: dict[str, tuple] = {}
    for trial, value in zip(trials, values, strict=True):
        parts = [str(trial.config["preset"])]
        parts += [f"{key.rsplit('/', 1)[-1]}={value[key]}" for key in varying]
        label = ", ".join(parts)
        by_label[label].append(trial)
        # Presets as they first come, then each one's groups by setting (p = 0, 0.005, ...).
        order[label] = (presets.index(parts[0]), *(_sort_key(value[key]) for key in varying))
    return {label: by_label[label] for label in sorted(by_label, key=order.__getitem__)}


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers by value, before anything else by its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, json.dumps(value, sort_keys=True, default=str))


def _setting(trial: Trial, key: str) -> Any:
    """The trial's value of a flattened config key; for an env argument it left out,
    the env's default; else ``"default"``."""
    if key in trial.config:
        return trial.config[key]
    name = key.removeprefix(ENV_CONFIG_PREFIX)
    if name != key:
        try:
            return env_defaults(trial.env).get(name, "default")
        except (ValueError, ImportError):  # an env this process cannot resolve
            return "default"
    return "default"


def describe(trial: Trial) -> str:
    """``dynamite seed=0 on GridNavi-v0``."""
    seed = trial.config.get(SEED_KEY)
    return f"{trial.config['preset']} seed={seed} on {trial.env.split('/')[-1]}"


def _identity(trial: Trial) -> str:
    config = {k: v for k, v in trial.config.items() if k not in RUN_PLAN_KEYS}
    return json.dumps(config, sort_keys=True, default=str)


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
