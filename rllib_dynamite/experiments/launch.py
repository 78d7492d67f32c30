"""Run an :class:`Experiment` with Ray Tune, on an embedded local Ray or a cluster."""

from __future__ import annotations

import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rllib_dynamite.checkpoint_integrity import MarkCompleteCheckpoints, RecoverLostCheckpoints
from rllib_dynamite.experiments.progress import ProgressReporter, format_duration
from rllib_dynamite.experiments.schema import Experiment, Resources
from rllib_dynamite.experiments.trainable import DynamiteTrainable

STOP_METRIC = "num_env_steps_sampled_lifetime"
logger = logging.getLogger(__name__)


@dataclass
class TrialSummary:
    """Where one trial's files are and how far it got."""

    name: str
    path: Path
    checkpoint: Path | None
    env_steps: int
    episode_return: float
    error: str | None
    evaluation_return: float = float("nan")  # the last result's greedy evaluation, if any


@dataclass
class RunSummary:
    experiment_dir: Path
    trials: list[TrialSummary]
    seconds: float
    unfinished: int = 0  # trials neither finished nor failed (the run was interrupted)

    @property
    def failed(self) -> list[TrialSummary]:
        return [t for t in self.trials if t.error is not None]


def init_ray(
    address: str | None,
    resources: Resources,
    verbose: bool = False,
    runtime_env: dict[str, Any] | None = None,
) -> bool:
    """Connect to ``address``, or start an embedded local Ray, with ``runtime_env`` (the
    experiment's code, shipped to every node); False if Ray was already running."""
    import ray

    if ray.is_initialized():
        if runtime_env:
            logger.warning("Ray is already running: the experiment's code is not shipped")
        return False
    options: dict[str, Any] = dict(
        log_to_driver=verbose,
        logging_level=logging.INFO if verbose else logging.WARNING,
        runtime_env=runtime_env,
    )
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(
            num_cpus=resources.num_cpus or os.cpu_count(),
            include_dashboard=False,
            object_store_memory=resources.object_store_memory_mb * 1024**2,
            **options,
        )
    return True


def trial_name(trial: Any) -> str:
    """``<preset>_seed=<seed>[_<other grid values>]_<trial id>``, safe as a directory name."""
    config = trial.config
    parts = [str(config["preset"]), f"seed={config['settings'].get('seed')}"]
    for key, value in sorted(trial.evaluated_params.items()):
        if key not in ("preset", "settings/seed"):
            parts.append(f"{key.rsplit('/', 1)[-1]}={value}")
    parts.append(trial.trial_id)
    return re.sub(r"[^A-Za-z0-9=._-]+", "-", "_".join(parts))


def run_experiment(
    experiment: Experiment,
    storage_path: Path,
    *,
    address: str | None = None,
    resume: bool = False,
    verbose: bool = False,
    stream: TextIO | None = None,
) -> RunSummary:
    """Run (or resume) the sweep under ``storage_path / experiment.name``.

    Raises:
        FileNotFoundError: ``resume`` and no experiment to resume there.
    """
    from ray import tune

    storage_path = storage_path.resolve()
    experiment_dir = storage_path / experiment.name
    if resume and not tune.Tuner.can_restore(str(experiment_dir)):
        raise FileNotFoundError(f"nothing to resume at {experiment_dir}")
    if not verbose:
        # Tune's legacy reporter is silent at verbose=0; the new one still prints tables.
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started = init_ray(address, experiment.resources, verbose, experiment.code.runtime_env())
    start = time.monotonic()
    try:
        if resume:
            tuner = tune.Tuner.restore(
                str(experiment_dir), trainable=DynamiteTrainable, resume_errored=True
            )
        else:
            tuner = _new_tuner(experiment, storage_path, verbose, stream)
        results = tuner.fit()
    finally:
        if started:
            import ray

            ray.shutdown()
    trials = [_summarize(result) for result in results]
    unfinished = sum(
        1 for t in trials if t.error is None and t.env_steps < experiment.stop_timesteps
    )
    return RunSummary(experiment_dir, trials, time.monotonic() - start, unfinished)


def _new_tuner(
    experiment: Experiment, storage_path: Path, verbose: bool, stream: TextIO | None
) -> Any:
    from ray import tune

    return tune.Tuner(
        DynamiteTrainable,
        param_space=experiment.param_space(),
        tune_config=tune.TuneConfig(
            num_samples=experiment.num_samples,
            max_concurrent_trials=experiment.resources.max_concurrent_trials,
            trial_name_creator=trial_name,
            trial_dirname_creator=trial_name,
        ),
        run_config=tune.RunConfig(
            name=experiment.name,
            storage_path=str(storage_path),
            stop={STOP_METRIC: experiment.stop_timesteps},
            # The newest keep_checkpoints checkpoints stay, the one at the end among them.
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=experiment.keep_checkpoints,
                checkpoint_frequency=experiment.checkpoint_frequency,
                checkpoint_at_end=True,
            ),
            # The belief pictures are written in the trial's working directory.
            sync_config=tune.SyncConfig(sync_artifacts=True),
            callbacks=[
                ProgressReporter(experiment.stop_timesteps, stream),
                MarkCompleteCheckpoints(),
                RecoverLostCheckpoints(),
            ],
            verbose=1 if verbose else 0,
        ),
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else text


def _summarize(result: Any) -> TrialSummary:
    metrics = result.metrics or {}
    return TrialSummary(
        name=Path(result.path).name,
        path=Path(result.path),
        checkpoint=Path(result.checkpoint.path) if result.checkpoint else None,
        env_steps=int(metrics.get(STOP_METRIC, 0)),
        episode_return=float(
            metrics.get("env_runners", {}).get("episode_return_mean", float("nan"))
        ),
        # The last line of a Ray task error names the exception (e.g. BrokenEnvError).
        error=None if result.error is None else _last_line(str(result.error)),
        evaluation_return=float(
            metrics.get("evaluation", {}).get("episode_return_mean", float("nan"))
        ),
    )


def describe(summary: RunSummary) -> list[str]:
    """The lines printed after a run: results, checkpoints, how to watch and evaluate."""
    lines = [
        f"done in {format_duration(summary.seconds)}: {len(summary.trials)} trial(s), "
        f"{len(summary.failed)} failed"
        + (f", {summary.unfinished} unfinished (interrupted)" if summary.unfinished else "")
    ]
    for trial in summary.trials:
        status = f"FAILED: {trial.error}" if trial.error else (
            f"{trial.env_steps:,} env steps, return {trial.episode_return:.3f}"
            + ("" if math.isnan(trial.evaluation_return)
               else f", greedy evaluation {trial.evaluation_return:.3f}")
        )  # fmt: skip
        lines.append(f"  {trial.name}: {status}")
        if trial.checkpoint:
            lines.append(f"    checkpoint: {_short(trial.checkpoint)}")
    lines.append(f"results and TensorBoard logs: {_short(summary.experiment_dir)}")
    lines.append(f"  watch:    tensorboard --logdir {_short(summary.experiment_dir)}")
    lines.append(
        f"  plot:     rllib-dynamite plot {_short(summary.experiment_dir)} --out curves.png"
    )
    last = next((t.checkpoint for t in reversed(summary.trials) if t.checkpoint), None)
    if last is not None:
        lines.append(f"  evaluate: rllib-dynamite evaluate {_short(last)}")
    return lines


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
