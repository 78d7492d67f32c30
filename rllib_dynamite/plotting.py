"""Figures and a Markdown table from Tune results directories (docs/usage.md).

A trial is a directory with Tune's ``params.json`` (the trial config: env, preset,
settings), ``progress.csv`` and ``result.json`` (evaluation results only appear there:
Tune's CSV columns are fixed by the first iteration). Trials are grouped by every
config value that differs between them except the seed, so seeds become the spread
of a group:

- ``curves``: a metric against env steps, mean ± std over seeds (the paper's Figure 5);
- ``ablation``: the same for DynaMITE, its three ablations and VariBAD, plus their
  final returns (Figure 6);
- ``p-sweep``: for each session-switch probability ``p``, box plots of the returns
  of the last evaluation's episodes, pooled over seeds (Figure 7).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from rllib_dynamite.envs import env_defaults

STEPS = "num_env_steps_sampled_lifetime"
ABLATION_PRESETS = ("dynamite", "no_consistency", "no_conditioning", "no_masking", "varibad")
IGNORED_KEYS = ("settings/seed",)
CURVE_POINTS = 100


@dataclass
class Trial:
    """One trial's config (flattened with ``/``), progress, evaluations (one row per
    evaluation, columns ``evaluation/<metric>``) and last evaluation's episode returns."""

    path: Path
    config: dict[str, Any]
    progress: pd.DataFrame
    evaluations: pd.DataFrame
    evaluation_returns: list[float]

    @property
    def env(self) -> str:
        return str(self.config["env"])

    @property
    def p(self) -> float:
        default = env_defaults(self.env)["p"]
        return float(self.config.get("settings/env_config/p", default))

    def series(self, metric: str) -> pd.DataFrame:
        """``[STEPS, metric]`` rows where ``metric`` was reported."""
        frame = self.evaluations if metric.startswith("evaluation/") else self.progress
        columns = list(dict.fromkeys([STEPS, metric]))
        if not set(columns) <= set(frame.columns):
            return pd.DataFrame(columns=columns)
        return frame[columns].dropna()

    def final(self, metric: str) -> float:
        values = self.series(metric)[metric]
        return float(values.iloc[-1]) if len(values) else float("nan")


def load_trials(results_dir: str | Path) -> list[Trial]:
    """Every trial directory under ``results_dir``.

    Raises:
        FileNotFoundError: no such directory, or no trial with results under it.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"no such results directory: {results_dir}")
    trials = []
    for params in sorted(results_dir.rglob("params.json")):
        progress_file = params.parent / "progress.csv"
        if not progress_file.is_file() or progress_file.stat().st_size == 0:
            continue
        config = _flatten(json.loads(params.read_text()))
        if "env" not in config or "preset" not in config:
            continue
        progress = pd.read_csv(progress_file)
        evaluations, last_returns = _evaluations(params.parent / "result.json")
        trials.append(Trial(params.parent, config, progress, evaluations, last_returns))
    if not trials:
        raise FileNotFoundError(
            f"no trial results (params.json + progress.csv) under {results_dir}"
        )
    return trials


def group_trials(trials: list[Trial]) -> dict[str, dict[str, list[Trial]]]:
    """``{env: {label: trials}}``; a label names the config values that tell groups apart."""
    varying = sorted(
        key
        for key in {k for t in trials for k in t.config}
        if key not in IGNORED_KEYS and key != "env"
        and len({json.dumps(t.config.get(key), sort_keys=True) for t in trials}) > 1
    )  # fmt: skip
    groups: dict[str, dict[str, list[Trial]]] = defaultdict(lambda: defaultdict(list))
    for trial in trials:
        parts = [str(trial.config["preset"])] + [
            f"{key.rsplit('/', 1)[-1]}={trial.config.get(key)}"
            for key in varying
            if key != "preset"
        ]
        groups[trial.env][", ".join(parts)].append(trial)
    return {env: dict(by_label) for env, by_label in groups.items()}


def final_table(groups: dict[str, dict[str, list[Trial]]], metric: str) -> str:
    """Markdown: final ``metric`` (mean ± std over seeds) of every group."""
    lines = [
        f"| env | method | final {metric} | evaluation return | seeds | env steps |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for env, by_label in groups.items():
        for label, trials in by_label.items():
            finals = np.array([t.final(metric) for t in trials])
            evaluations = np.array([t.final("evaluation/episode_return_mean") for t in trials])
            steps = min(int(t.final(STEPS)) for t in trials)
            lines.append(
                f"| {env.split('/')[-1]} | {label} | {_mean_std(finals)} | "
                f"{_mean_std(evaluations)} | {len(trials)} | {steps:,} |"
            )
    return "\n".join(lines)


def plot(
    results_dir: str | Path, out: str | Path, kind: str = "curves", metric: str = ""
) -> tuple[Path, Path, str]:
    """Draw ``kind`` (curves, ablation or p-sweep) to ``out`` and write the Markdown table
    beside it (``.md``). Returns ``(figure path, table path, table)``."""
    metric = metric or "env_runners/episode_return_mean"
    trials = load_trials(results_dir)
    if kind == "ablation":
        trials = [t for t in trials if t.config["preset"] in ABLATION_PRESETS]
        if not trials:
            raise FileNotFoundError(f"no trials of {list(ABLATION_PRESETS)} under {results_dir}")
    groups = group_trials(trials)
    drawers = {"curves": _draw_curves, "ablation": _draw_ablation, "p-sweep": _draw_p_sweep}
    if kind not in drawers:
        raise ValueError(f"kind must be one of {list(drawers)}, got {kind!r}")
    figure = drawers[kind](groups, trials, metric)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    table = final_table(groups, metric)
    table_path = out.with_suffix(".md")
    table_path.write_text(table + "\n")
    return out, table_path, table


# -- drawing ---------------------------------------------------------------------------
def _colours(labels: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {label: palette(i % 10) for i, label in enumerate(sorted(labels))}


def _curve(trials: list[Trial], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over trials of ``metric`` interpolated on a common env-step grid."""
    end = max(t.final(STEPS) for t in trials)
    grid = np.linspace(0.0, end, CURVE_POINTS)
    curves = []
    for trial in trials:
        frame = trial.series(metric)
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
    axis: Any, by_label: dict[str, list[Trial]], metric: str, colours: dict
) -> None:
    for label, trials in sorted(by_label.items()):
        x, mean, std = _curve(trials, metric)
        axis.plot(x, mean, color=colours[label], label=f"{label} (n={len(trials)})")
        axis.fill_between(x, mean - std, mean + std, color=colours[label], alpha=0.2)
    axis.set_xlabel("env steps")
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)


def _draw_curves(groups: dict, trials: list[Trial], metric: str) -> Figure:
    colours = _colours([label for by_label in groups.values() for label in by_label])
    figure = Figure(figsize=(6 * len(groups), 4.2), layout="constrained")
    axes = figure.subplots(1, len(groups), squeeze=False)[0]
    for axis, (env, by_label) in zip(axes, groups.items(), strict=True):
        _draw_curves_on(axis, by_label, metric, colours)
        axis.set_title(env.split("/")[-1])
    figure.suptitle("Learning curves (mean ± std over seeds)")
    return figure


def _draw_ablation(groups: dict, trials: list[Trial], metric: str) -> Figure:
    colours = _colours([label for by_label in groups.values() for label in by_label])
    figure = Figure(figsize=(12, 4.2 * len(groups)), layout="constrained")
    axes = figure.subplots(len(groups), 2, squeeze=False)
    for (curve_axis, bar_axis), (env, by_label) in zip(axes, groups.items(), strict=True):
        _draw_curves_on(curve_axis, by_label, metric, colours)
        curve_axis.set_title(f"{env.split('/')[-1]}: learning curves")
        labels = sorted(by_label, key=_ablation_rank)
        finals = [np.array([t.final(metric) for t in by_label[label]]) for label in labels]
        bar_axis.bar(
            range(len(labels)),
            [np.nanmean(f) for f in finals],
            yerr=[np.nanstd(f) for f in finals],
            color=[colours[label] for label in labels],
            capsize=4,
        )
        bar_axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        bar_axis.set_ylabel(f"final {metric.rsplit('/', 1)[-1]}")
        bar_axis.set_title(f"{env.split('/')[-1]}: final return (mean ± std)")
    figure.suptitle("Ablations of DynaMITE-RL")
    return figure


def _draw_p_sweep(groups: dict, trials: list[Trial], metric: str) -> Figure:
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
                    for r in (t.evaluation_returns or [t.final(metric)])
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
def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _evaluations(result_file: Path) -> tuple[pd.DataFrame, list[float]]:
    """Scalar evaluation metrics of every evaluation in ``result.json`` (one row each,
    with the env steps), and the episode returns of the last one."""
    rows: list[dict[str, float]] = []
    returns: list[float] = []
    if result_file.is_file():
        with result_file.open() as lines:
            for line in lines:
                if '"evaluation"' not in line:
                    continue
                result = json.loads(line)
                evaluation = result.get("evaluation") or {}
                row = {f"evaluation/{k}": v for k, v in evaluation.items() if _is_number(v)}
                rows.append({STEPS: result.get(STEPS, np.nan), **row})
                returns = [float(r) for r in evaluation.get("episode_returns", [])]
    return pd.DataFrame(rows), returns


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ablation_rank(label: str) -> int:
    preset = label.split(",")[0]
    return ABLATION_PRESETS.index(preset) if preset in ABLATION_PRESETS else len(ABLATION_PRESETS)


def _mean_std(values: np.ndarray) -> str:
    values = values[~np.isnan(values)]
    if not values.size:
        return "–"
    return f"{values.mean():.3f} ± {values.std():.3f}"
