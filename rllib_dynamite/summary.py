"""What a study's trials amount to: final returns over seeds with 95% intervals, the
difference of DynaMITE-RL and each baseline, and env steps to reach a return; the
Markdown tables of ``rllib-dynamite plot`` (docs/usage.md).

A trial's *final return* is its last greedy evaluation return
(``evaluation/episode_return_mean``) where it has one, else its last training return
(``env_runners/episode_return_mean``), read at or before a common env-step budget when
one is given. Intervals are Student t over seeds (n − 1 degrees of freedom); a
difference of two methods gets Welch's interval, which does not assume equal variances.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from rllib_dynamite.trials import EVALUATION_RETURN, STEPS, TIME_TOTAL, TRAINING_RETURN, Trial

CONFIDENCE = 0.95


# -- statistics ------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A mean (or a difference of means) and its confidence interval; ``low`` and
    ``high`` are NaN where there are too few values for one."""

    mean: float
    low: float
    high: float
    dof: float = float("nan")


def t_quantile(probability: float, dof: float) -> float:
    """The ``probability`` quantile of Student's t with ``dof`` degrees of freedom."""
    return float(stats.t.ppf(probability, dof))


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """``mean ± t_{(1+c)/2, n−1} · s / √n`` of ``values`` (sample std ``s``)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    mean = float(values.mean())
    if n < 2:
        return Interval(mean, float("nan"), float("nan"))
    half = t_quantile((1 + confidence) / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return Interval(mean, mean - half, mean + half, dof=float(n - 1))


def welch_interval(
    first: Sequence[float], second: Sequence[float], confidence: float = CONFIDENCE
) -> Interval:
    """``mean(first) − mean(second)`` with Welch's interval.

    The standard error is ``√(s₁²/n₁ + s₂²/n₂)``; the degrees of freedom are the
    Welch–Satterthwaite ``(s₁²/n₁ + s₂²/n₂)² / Σ (sᵢ²/nᵢ)² / (nᵢ − 1)``. Needs two
    values on each side; where both samples are constant the interval is the point.
    """
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    if not first.size or not second.size:
        return Interval(float("nan"), float("nan"), float("nan"))
    difference = float(first.mean() - second.mean())
    if first.size < 2 or second.size < 2:
        return Interval(difference, float("nan"), float("nan"))
    shares = np.array([first.var(ddof=1) / first.size, second.var(ddof=1) / second.size])
    variance = float(shares.sum())
    if variance == 0.0:
        return Interval(difference, difference, difference)
    dof = variance**2 / float((shares**2 / np.array([first.size - 1, second.size - 1])).sum())
    half = t_quantile((1 + confidence) / 2, dof) * np.sqrt(variance)
    return Interval(difference, difference - half, difference + half, dof=dof)


# -- reading trials --------------------------------------------------------------------
@dataclass(frozen=True)
class FinalReturn:
    """One trial's final return, where it was read (env steps) and from what."""

    value: float
    steps: float
    source: str


def final_return(trial: Trial, at_steps: float | None = None) -> FinalReturn:
    """The trial's final return (module docstring), at or before ``at_steps``."""
    curve, source = trial.return_series(at_steps)
    if curve.empty:
        return FinalReturn(float("nan"), float("nan"), source)
    return FinalReturn(float(curve["return"].iloc[-1]), float(curve[STEPS].iloc[-1]), source)


def steps_to_reach(trial: Trial, threshold: float, at_steps: float | None = None) -> float | None:
    """Env steps at the first point of the trial's return curve (the one its final
    return is read from) at or above ``threshold``; ``None`` if it never gets there
    (up to ``at_steps``)."""
    curve, _ = trial.return_series(at_steps)
    reached = curve[curve["return"] >= threshold]
    return float(reached[STEPS].iloc[0]) if len(reached) else None


def minutes_at(trial: Trial, steps: float) -> float | None:
    """The trial's wall-clock minutes (Tune's ``time_total_s``, evaluations included)
    when it had sampled ``steps`` env steps; ``None`` where it did not record them."""
    rows = trial.series(TIME_TOTAL, steps)
    return float(rows[TIME_TOTAL].iloc[-1]) / 60.0 if len(rows) else None


# -- tables ----------------------------------------------------------------------------
def summary_tables(
    groups: dict[str, dict[str, list[Trial]]],
    metric: str = TRAINING_RETURN,
    at_steps: float | None = None,
    threshold: float | None = None,
    reference: str = "dynamite",
) -> str:
    """Markdown: final return per group; ``reference`` minus each baseline run under
    the same other config values; env steps to reach ``threshold``, when given."""
    budget = "" if at_steps is None else f", at or before {at_steps:,.0f} env steps"
    percent = f"{CONFIDENCE:.0%}"
    extra = metric not in (TRAINING_RETURN, EVALUATION_RETURN)
    lines = [
        f"Final return: each trial's last greedy evaluation return ({EVALUATION_RETURN}), "
        f"or its last training return where it has no evaluation{budget}; mean, sample "
        f"std and {percent} t interval over seeds.",
        "",
        "| env | method | seeds | final return | std | " + f"{percent} CI | from | env steps |"
        + (f" final {metric} |" if extra else ""),
        "| --- | --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if extra else ""),
    ]  # fmt: skip
    finals: dict[tuple[str, str], np.ndarray] = {}
    for env, by_label in groups.items():
        for label, trials in by_label.items():
            reads = [final_return(t, at_steps) for t in trials]
            values = np.array([r.value for r in reads if not np.isnan(r.value)])
            finals[env, label] = values
            interval = mean_interval(values)
            std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
            row = (
                f"| {_short(env)} | {label} | {values.size} | {_number(interval.mean)} | "
                f"{_number(std)} | {_interval(interval)} | {_sources(reads)} | "
                f"{_step_range([r.steps for r in reads])} |"
            )
            if extra:
                row += f" {_mean_std([t.final(metric, at_steps) for t in trials])} |"
            lines.append(row)
    lines += _by_env_table(groups, finals)
    lines += _difference_table(groups, finals, reference)
    if threshold is not None:
        lines += _threshold_table(groups, threshold, at_steps)
    return "\n".join(lines)


def _by_env_table(
    groups: dict[str, dict[str, list[Trial]]], finals: dict[tuple[str, str], np.ndarray]
) -> list[str]:
    """The paper's Table 1: one row per method, one column per env, mean ± std of the
    final return over seeds; only when the study spans more than one env."""
    if len(groups) < 2:
        return []
    labels = list(dict.fromkeys(label for by_label in groups.values() for label in by_label))
    rows = []
    for label in labels:
        cells = []
        for env in groups:
            values = finals.get((env, label))
            cells.append("–" if values is None else _mean_std(values, digits=2, count=True))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return [
        "",
        "Final return by env (the paper's Table 1): mean ± sample std over seeds (n seeds).",
        "",
        "| method | " + " | ".join(_short(env) for env in groups) + " |",
        "| --- |" + " --- |" * len(groups),
        *rows,
    ]


def _difference_table(
    groups: dict[str, dict[str, list[Trial]]],
    finals: dict[tuple[str, str], np.ndarray],
    reference: str,
) -> list[str]:
    rows = []
    for env, by_label in groups.items():
        for label in by_label:
            preset, _, context = label.partition(", ")
            if preset != reference:
                continue
            for other in by_label:
                other_preset, _, other_context = other.partition(", ")
                if other_preset == reference or other_context != context:
                    continue
                interval = welch_interval(finals[env, label], finals[env, other])
                dof = "–" if np.isnan(interval.dof) else f"{interval.dof:.1f}"
                rows.append(
                    f"| {_short(env)} | {label} − {other} | {_number(interval.mean)} | "
                    f"{_interval(interval)} | {dof} |"
                )
    if not rows:
        return []
    return [
        "",
        f"{reference} minus each baseline: difference of mean final returns, "
        f"{CONFIDENCE:.0%} Welch interval.",
        "",
        f"| env | difference | mean | {CONFIDENCE:.0%} CI | dof |",
        "| --- | --- | --- | --- | --- |",
        *rows,
    ]


def _threshold_table(
    groups: dict[str, dict[str, list[Trial]]], threshold: float, at_steps: float | None
) -> list[str]:
    budget = "" if at_steps is None else f" within {at_steps:,.0f} env steps"
    lines = [
        "",
        f"Env steps to first reach a return of {threshold:g}{budget} (on the curve the "
        f"final return is read from); mean and {CONFIDENCE:.0%} t interval over the seeds "
        "that reached it, the others counted as not reached; minutes: the trials' "
        "wall-clock time by then (Tune's time_total_s, evaluations included), mean over "
        "the same seeds.",
        "",
        f"| env | method | reached | env steps | {CONFIDENCE:.0%} CI | minutes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for env, by_label in groups.items():
        for label, trials in by_label.items():
            steps = [steps_to_reach(t, threshold, at_steps) for t in trials]
            reached = [s for s in steps if s is not None]
            missed = len(steps) - len(reached)
            counts = f"{len(reached)} of {len(steps)}" + (
                f" ({missed} not reached)" if missed else ""
            )
            if not reached:
                lines.append(f"| {_short(env)} | {label} | {counts} | not reached | – | – |")
                continue
            interval = mean_interval(reached)
            ci = "–" if np.isnan(interval.low) else f"[{interval.low:,.0f}, {interval.high:,.0f}]"
            minutes = [
                minutes_at(t, s) for t, s in zip(trials, steps, strict=True) if s is not None
            ]
            known = [m for m in minutes if m is not None]
            clock = f"{np.mean(known):.1f}" if len(known) == len(minutes) else "–"
            lines.append(
                f"| {_short(env)} | {label} | {counts} | {interval.mean:,.0f} | {ci} | {clock} |"
            )
    return lines


def _short(env: str) -> str:
    return env.split("/")[-1]


def _number(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.2f}"


def _interval(interval: Interval) -> str:
    if np.isnan(interval.low):
        return "–"
    return f"[{interval.low:.2f}, {interval.high:.2f}]"


def _mean_std(values: Sequence[float], digits: int = 3, count: bool = False) -> str:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if not values.size:
        return "–"
    std = f" ± {values.std(ddof=1):.{digits}f}" if values.size > 1 else ""
    seeds = f" (n={values.size})" if count else ""
    return f"{values.mean():.{digits}f}{std}{seeds}"


def _sources(reads: Sequence[FinalReturn]) -> str:
    counts = Counter(r.source for r in reads if not np.isnan(r.value))
    if len(counts) <= 1:
        return next(iter(counts), "–")
    return ", ".join(f"{source} ×{n}" for source, n in counts.most_common())


def _step_range(steps: Sequence[float]) -> str:
    steps = [s for s in steps if not np.isnan(s)]
    if not steps:
        return "–"
    low, high = min(steps), max(steps)
    return f"{low:,.0f}" if low == high else f"{low:,.0f}–{high:,.0f}"
