"""One console line per training iteration, instead of Tune's tables and Ray's logs."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from ray import tune


def format_duration(seconds: float) -> str:
    """``H:MM:SS``."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressReporter(tune.Callback):
    """Print iteration, env steps, return, elapsed and remaining time of every trial.

    Elapsed is wall-clock time since the trial started (in this session); remaining
    time extrapolates the trial's speed so far to ``stop_timesteps``. Evaluation
    results get a second line.
    """

    def __init__(
        self,
        stop_timesteps: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stop_timesteps = stop_timesteps
        self.stream = stream
        self.clock = clock
        self._started: dict[str, float] = {}
        self._first_steps: dict[str, int] = {}

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._started[str(trial)] = self.clock()
        self._first_steps.pop(str(trial), None)
        self._print(f"[{trial}] started ({len(trials)} trial(s) in this run)")

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        steps = int(result.get("num_env_steps_sampled_lifetime", 0))
        now = self.clock()
        elapsed = now - self._started.setdefault(str(trial), now)
        # Speed over the steps sampled in this session (a resumed trial starts late).
        sampled_now = int(result.get("env_runners", {}).get("num_env_steps_sampled", 0))
        done_here = steps - self._first_steps.setdefault(str(trial), steps - sampled_now)
        left = max(self.stop_timesteps - steps, 0)
        remaining = elapsed / done_here * left if done_here > 0 else 0.0
        episode_return = result.get("env_runners", {}).get("episode_return_mean", float("nan"))
        self._print(
            f"[{trial}] iter {result.get('training_iteration', 0):>4} | "
            f"env steps {steps:>11,}/{self.stop_timesteps:,} | "
            f"return {episode_return:9.3f} | "
            f"{format_duration(elapsed)} elapsed | ~{format_duration(remaining)} left"
        )
        evaluation = result.get("evaluation")
        if evaluation:
            self._print(f"[{trial}]   evaluation: {evaluation_line(evaluation)}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._print(f"[{trial}] finished")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._print(f"[{trial}] FAILED; see {trial.path}/error.txt")


def evaluation_line(metrics: dict[str, Any]) -> str:
    """A one-line summary of evaluation metrics."""
    parts = [
        f"return {metrics['episode_return_mean']:.3f} ± {metrics['episode_return_std']:.3f}",
        f"per session {metrics['session_return_mean']:.3f}",
        _adaptation(metrics),
    ]
    if "termination_precision" in metrics:
        parts.append(
            f"termination P/R {metrics['termination_precision']:.2f}/"
            f"{metrics['termination_recall']:.2f}"
        )
    if "belief_readout_r2" in metrics:
        parts.append(f"belief R² {metrics['belief_readout_r2']:.2f}")
    return " | ".join(parts)


def _adaptation(metrics: dict[str, Any]) -> str:
    fraction, switches = metrics["adapted_fraction"], metrics["switches"]
    if math.isnan(fraction):
        return "adaptation n/a" if switches else "no switches"
    line = f"adapted {fraction:.0%} of {switches} switches"
    steps = metrics["steps_to_adapt_mean"]
    return line if math.isnan(steps) else f"{line} in {steps:.1f} steps"
