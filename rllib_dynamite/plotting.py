"""Figures and Markdown tables of a study from Tune results directories or their study
summaries (docs/usage.md).

The trials of every directory and summary are merged (:mod:`rllib_dynamite.trials`)
and grouped by every config value that differs between them except the seed, so seeds
become the spread of a group:

- ``curves``: a metric against env steps, mean ± std over seeds (the paper's Figure 5);
- ``ablation``: the same for DynaMITE, its three ablations and VariBAD, plus their
  final returns (Figure 6);
- ``p-sweep``: for each session-switch probability ``p``, box plots of the returns
  of the last evaluation's episodes, pooled over seeds (Figure 7).

Beside the figure, the tables of :mod:`rllib_dynamite.summary`: final return with a 95%
interval per group, DynaMITE-RL minus each baseline, env steps to reach a return.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rllib_dynamite.study_files import load_trials
from rllib_dynamite.summary import final_return, summary_tables
from rllib_dynamite.trials import (
    STEPS,
    TRAINING_RETURN,
    Trial,
    describe,
    exclude_trials,
    group_trials,
    merge_trials,
)

ABLATION_PRESETS = ("dynamite", "no_consistency", "no_conditioning", "no_masking", "varibad")
KINDS = ("curves", "ablation", "p-sweep")
CURVE_POINTS = 100


def plot(
    results_dirs: str | Path | Iterable[str | Path],
    out: str | Path,
    kind: str = "curves",
    metric: str = TRAINING_RETURN,
    at_steps: float | None = None,
    threshold: float | None = None,
    reference: str = "dynamite",
    same: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> tuple[Path, Path, str]:
    """Draw ``kind`` (curves, ablation or p-sweep) of the merged trials of
    ``results_dirs`` (results directories or study summaries) to ``out`` and write the
    Markdown tables beside it (``.md``).

    ``at_steps`` reads every trial at that env-step budget (trials that stopped short
    of it are left out); ``threshold`` adds env steps to first reach that return;
    ``reference`` is the preset the others are compared with; ``same`` names settings
    whose values do not split a method's trials into groups (:func:`group_trials`);
    ``exclude`` (``SETTING=VALUE``) leaves out the trials that set a setting to a value
    (:func:`exclude_trials`). Returns
    ``(figure path, table path, tables)``.

    Raises:
        FileNotFoundError: a missing directory or summary, or no trials to summarise.
        ValueError: an unknown ``kind`` or ``metric``, or a budget ≤ 0.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    if at_steps is not None and at_steps <= 0:
        raise ValueError(f"--at-steps must be > 0, got {at_steps:g}")
    trials, notes = merge_trials(load_trials(results_dirs))
    if exclude:
        trials = exclude_trials(trials, exclude)
        if not trials:
            raise FileNotFoundError(f"no trials left after --exclude {' '.join(exclude)}")
    _check_metric(trials, metric)
    if at_steps is not None:
        short = [t for t in trials if t.last_step < at_steps]
        notes += [
            f"{describe(t)} left out: it stopped at {t.last_step:,.0f} env steps ({t.path})"
            for t in short
        ]
        trials = [t for t in trials if t.last_step >= at_steps]
        if not trials:
            raise FileNotFoundError(f"no trial ran {at_steps:,.0f} env steps")
    if kind == "ablation":
        trials = [t for t in trials if t.config["preset"] in ABLATION_PRESETS]
        if not trials:
            raise FileNotFoundError(f"no trials of {list(ABLATION_PRESETS)} to plot")
    presets = {t.config["preset"] for t in trials}
    if len(presets) > 1 and reference not in presets:
        notes.append(f"no {reference} trials: no differences (pick one with --reference)")
    groups = group_trials(trials, same)
    drawers = {"curves": _draw_curves, "ablation": _draw_ablation, "p-sweep": _draw_p_sweep}
    figure = drawers[kind](groups, trials, metric, at_steps)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    tables = summary_tables(groups, metric, at_steps, threshold, reference)
    if notes:
        tables += "\n\nNotes:\n\n" + "\n".join(f"- {note}" for note in notes)
    table_path = out.with_suffix(".md")
    table_path.write_text(tables + "\n")
    return out, table_path, tables


def _check_metric(trials: list[Trial], metric: str) -> None:
    if any(t.has(metric) for t in trials):
        return
    columns = sorted({c for t in trials for c in [*t.progress.columns, *t.evaluations.columns]})
    close = difflib.get_close_matches(metric, columns, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"no trial reports the metric {metric!r}{hint}")


# -- drawing ---------------------------------------------------------------------------
def _colours(labels: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {label: palette(i % 10) for i, label in enumerate(sorted(set(labels)))}


def _curve(
    trials: list[Trial], metric: str, at_steps: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over trials of ``metric`` interpolated on a common env-step grid
    (up to ``at_steps``)."""
    end = max(t.last_step for t in trials) if at_steps is None else at_steps
    grid = np.linspace(0.0, end, CURVE_POINTS)
    curves = []
    for trial in trials:
        frame = trial.series(metric, at_steps)
        if frame.empty:
            continue
        x, y = frame[STEPS].to_numpy(float), frame[metric].to_numpy(float)
        curves.append(np.where(grid <= x[-1], np.interp(grid, x, y, left=np.nan), np.nan))
    if not curves:
        return grid, np.full_like(grid, np.nan), np.full_like(grid, np.nan)
    stacked = np.array(curves)
    valid = ~np.isnan(stacked).all(axis=0)
    mean = np.full_like(grid, np.nan)
    std = np.full_like(grid, np.nan)
    mean[valid] = np.nanmean(stacked[:, valid], axis=0)
    std[valid] = np.nanstd(stacked[:, valid], axis=0)
    return grid, mean, std


def _draw_curves_on(
    axis: Any,
    by_label: dict[str, list[Trial]],
    metric: str,
    at_steps: float | None,
    colours: dict,
) -> None:
    for label, trials in sorted(by_label.items()):
        x, mean, std = _curve(trials, metric, at_steps)
        axis.plot(x, mean, color=colours[label], label=f"{label} (n={len(trials)})")
        axis.fill_between(x, mean - std, mean + std, color=colours[label], alpha=0.2)
    axis.set_xlabel("env steps")
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)


def _draw_curves(groups: dict, trials: list[Trial], metric: str, at_steps: float | None) -> Figure:
    colours = _colours([label for by_label in groups.values() for label in by_label])
    figure = Figure(figsize=(6 * len(groups), 4.2), layout="constrained")
    axes = figure.subplots(1, len(groups), squeeze=False)[0]
    for axis, (env, by_label) in zip(axes, groups.items(), strict=True):
        _draw_curves_on(axis, by_label, metric, at_steps, colours)
        axis.set_title(env.split("/")[-1])
    figure.suptitle("Learning curves (mean ± std over seeds)")
    return figure


def _draw_ablation(
    groups: dict, trials: list[Trial], metric: str, at_steps: float | None
) -> Figure:
    colours = _colours([label for by_label in groups.values() for label in by_label])
    figure = Figure(figsize=(12, 4.2 * len(groups)), layout="constrained")
    axes = figure.subplots(len(groups), 2, squeeze=False)
    for (curve_axis, bar_axis), (env, by_label) in zip(axes, groups.items(), strict=True):
        _draw_curves_on(curve_axis, by_label, metric, at_steps, colours)
        curve_axis.set_title(f"{env.split('/')[-1]}: learning curves")
        labels = sorted(by_label, key=_ablation_rank)
        finals = [
            np.array([final_return(t, at_steps).value for t in by_label[label]]) for label in labels
        ]
        bar_axis.bar(
            range(len(labels)),
            [np.nanmean(f) for f in finals],
            yerr=[np.nanstd(f, ddof=1) if np.sum(~np.isnan(f)) > 1 else 0.0 for f in finals],
            color=[colours[label] for label in labels],
            capsize=4,
        )
        bar_axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        bar_axis.set_ylabel("final return")
        bar_axis.set_title(f"{env.split('/')[-1]}: final return (mean ± std)")
    figure.suptitle("Ablations of DynaMITE-RL")
    return figure


def _draw_p_sweep(groups: dict, trials: list[Trial], metric: str, at_steps: float | None) -> Figure:
    envs = sorted({t.env for t in trials})
    figure = Figure(figsize=(9, 4.5 * len(envs)), layout="constrained")
    axes = figure.subplots(len(envs), 1, squeeze=False)[:, 0]
    presets = sorted({str(t.config["preset"]) for t in trials})
    colours = _colours(presets)
    width = 0.8 / len(presets)
    for axis, env in zip(axes, envs, strict=True):
        env_trials = [t for t in trials if t.env == env]
        ps = sorted({t.p for t in env_trials})
        for index, preset in enumerate(presets):
            data, positions = [], []
            for column, p in enumerate(ps):
                returns = [
                    r
                    for t in env_trials
                    if t.config["preset"] == preset and t.p == p
                    for r in (t.episode_returns(at_steps) or [final_return(t, at_steps).value])
                ]
                if returns:
                    data.append(returns)
                    positions.append(column + (index - (len(presets) - 1) / 2) * width)
            if data:
                boxes = axis.boxplot(data, positions=positions, widths=width * 0.9,
                                     patch_artist=True, manage_ticks=False)  # fmt: skip
                for box in boxes["boxes"]:
                    box.set_facecolor(colours[preset])
                axis.plot([], [], color=colours[preset], lw=8, label=preset)
        axis.set_xticks(range(len(ps)), [f"{p:g}" for p in ps])
        axis.set_xlabel("session switch probability p")
        axis.set_ylabel("evaluation episode return")
        axis.set_title(env.split("/")[-1])
        axis.grid(alpha=0.3, axis="y")
        axis.legend(fontsize=8)
    figure.suptitle("Returns of trained policies across p (last evaluation, pooled over seeds)")
    return figure


# -- helpers ---------------------------------------------------------------------------
def _ablation_rank(label: str) -> int:
    preset = label.split(",")[0]
    return ABLATION_PRESETS.index(preset) if preset in ABLATION_PRESETS else len(ABLATION_PRESETS)
