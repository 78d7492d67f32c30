"""Tune trials of a study: what one holds, and several merged and grouped (docs/usage.md).

A :class:`Trial` is one trial's config, progress and evaluations, as
:func:`rllib_dynamite.study_files.load_trials` reads it from a results directory or a
study summary. Several results directories (a study run in several parts, or a rerun
of one seed) merge into one set of trials (:func:`merge_trials`); trials are then
grouped by every config value that differs between them except the seed and the run
plan (budget, evaluation schedule), so seeds become the spread of a group
(:func:`group_trials`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rllib_dynamite.envs import env_defaults
from rllib_dynamite.settings import SETTING_TYPES, ConfigError, _closest

STEPS = "num_env_steps_sampled_lifetime"
TRAINING_RETURN = "env_runners/episode_return_mean"
EVALUATION_RETURN = "evaluation/episode_return_mean"
TIME_TOTAL = "time_total_s"  # Tune's wall-clock seconds of the trial
# How long a trial ran and how often it was evaluated: not part of what a trial is, so
# a longer rerun of the same configuration and seed replaces the shorter one.
RUN_PLAN_KEYS = ("stop_timesteps", "evaluation_interval", "evaluation_episodes")
SEED_KEY = "settings/seed"
ENV_CONFIG_PREFIX = "settings/env_config/"


@dataclass
class Trial:
    """One trial's config (flattened with ``/``), progress, evaluations (one row per
    evaluation, columns ``evaluation/<metric>``) and each evaluation's episode returns."""

    path: Path
    config: dict[str, Any]
    progress: pd.DataFrame
    evaluations: pd.DataFrame
    evaluation_episode_returns: list[list[float]]
    started: str | None = None  # ISO date of its first iteration, where known

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


def merge_trials(trials: list[Trial]) -> tuple[list[Trial], list[str]]:
    """One trial per configuration and seed: of a pair, the one that ran more env steps;
    of two as long, the one started later (a re-run supersedes, e.g. after a default
    changed: a trial records the settings its file set, not the defaults it ran under).

    Returns the kept trials (in their order) and one note per dropped trial.
    """
    by_identity: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        by_identity[_identity(trial)].append(trial)
    kept, notes = [], []
    for same in by_identity.values():
        longest = max(same, key=lambda t: (t.last_step, t.started or ""))
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


def exclude_trials(trials: list[Trial], exclusions: Iterable[str]) -> list[Trial]:
    """The trials that set none of ``exclusions`` (``SETTING=VALUE``, e.g.
    ``consistency_weight=0.05``): a trial is left out where it set that setting to that
    value; trials that left it to its default stay.

    Raises:
        ConfigError: an exclusion without ``=`` or naming an unknown setting.
    """
    rules = []
    for exclusion in exclusions:
        key, sep, value = exclusion.partition("=")
        if not sep or not value:
            raise ConfigError(f"--exclude takes SETTING=VALUE, got {exclusion!r}")
        rules.append((f"settings/{_setting_name(key.strip(), '--exclude')}", value.strip()))
    return [t for t in trials if not any(_matches(t.config.get(k), v) for k, v in rules)]


def _matches(value: Any, text: str) -> bool:
    if value is None:
        return False
    try:
        return float(value) == float(text)
    except (TypeError, ValueError):
        return str(value) == text


def _setting_name(key: str, option: str = "--same") -> str:
    """``key`` without a ``settings/`` prefix; ``ConfigError`` unless it names a
    DynamiteSettings field or an env argument (``env_config/<name>``)."""
    name = key.removeprefix("settings/")
    if not name.startswith("env_config/"):
        if name not in SETTING_TYPES:
            raise ConfigError(f"{option}: unknown setting {name!r}{_closest(name, SETTING_TYPES)}")
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
