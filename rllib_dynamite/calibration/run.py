"""Calibrate an env: train its memoryless presets through Tune, play their final
checkpoints beside the scripted references, and judge them (:mod:`.gates`).

:func:`calibrate` builds an :class:`~rllib_dynamite.experiments.Experiment` of
``markov_ppo`` and, where the env takes ``oracle=True``, ``oracle`` on a few seeds and
runs it as ``rllib-dynamite tune`` runs a file; :func:`calibrate_results` reads trials
that are already trained (a calibration YAML's results). Both evaluate each trial's
final checkpoint greedily on the episodes the scripted references play.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rllib_dynamite.envs.resolve import EnvLike, probe_env, resolve_env, short_name
from rllib_dynamite.presets import MEMORYLESS_PRESETS

if TYPE_CHECKING:
    from rllib_dynamite.calibration.gates import Gate
    from rllib_dynamite.evaluation.scripted import Reference
    from rllib_dynamite.experiments import Experiment

DEFAULT_STOP_TIMESTEPS = 200_000
DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_EPISODES = 100
# One CPU a trial, as the calibration YAMLs run: the trials run side by side.
DEFAULT_SETTINGS: dict[str, Any] = {"num_env_runners": 0}
# The labels of a step's info that greedy evaluation reads (evaluation/rollout.py).
EVALUATION_LABELS = ("session_id", "latent")
# A variant of an env: its name and its env_config as sorted JSON.
Variant = tuple[str, str]


@dataclass
class CalibrationReport:
    """The verdicts on one env configuration, with the numbers behind them.

    ``values``: each preset's greedy return by training seed; ``references``: the
    scripted ones played on the same ``episodes`` episodes (seeded ``evaluation_seed``);
    ``notes``: what was not calibrated, and why.
    """

    env: str
    env_config: dict[str, Any]
    episodes: int
    evaluation_seed: int
    references: dict[str, Reference]
    values: dict[str, dict[int, float]]
    gates: list[Gate]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every gate that ran passed (an env without an oracle has one gate)."""
        ran = [gate for gate in self.gates if gate.ran]
        return bool(ran) and all(gate.passed for gate in ran)

    def lines(self) -> list[str]:
        """The report as printed: references, notes, one line per gate, the verdict."""
        config = json.dumps(self.env_config, sort_keys=True)
        kind = "bounds" if any(r.bound for r in self.references.values()) else "yardsticks"
        scripted = " | ".join(
            f"{name} {reference.mean:.2f}"
            + (f" ({reference.description})" if name != "random" else "")
            for name, reference in self.references.items()
        )
        return [
            f"{self.env} {config}: greedy return of each seed's final checkpoint, "
            f"{self.episodes} episodes (seed {self.evaluation_seed})",
            f"  scripted references on the same episodes ({kind}): {scripted}",
            *(f"  {note}" for note in self.notes),
            *(f"  {gate.line()}" for gate in self.gates),
            f"calibration of {self.env}: {'PASS' if self.passed else 'FAIL'}",
        ]


@dataclass(frozen=True)
class CalibrationPlan:
    """A checked calibration, ready to train: the experiment and the references."""

    experiment: Experiment
    references: dict[str, Reference]
    notes: tuple[str, ...]  # what is not calibrated, and why


def calibrate(
    env: EnvLike,
    *,
    env_config: Mapping[str, Any] | None = None,
    stop_timesteps: int = DEFAULT_STOP_TIMESTEPS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    episodes: int = DEFAULT_EPISODES,
    output: str | Path = "results",
    evaluation_seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
) -> CalibrationReport:
    """Can the RL machinery learn ``env`` at all? Train and judge its memoryless presets.

    ``markov_ppo`` and, where the env takes ``oracle=True``, ``oracle`` train for
    ``stop_timesteps`` env steps on each of ``seeds`` as one Tune run under
    ``output/calibration_<env>``; each trial's final checkpoint then plays ``episodes``
    greedy episodes beside the env's scripted references (:mod:`.gates` for the rules).

    Args:
        env: any form ``--env`` takes: a registered id, ``"package.module:attr"``, or a
            class or factory defined at the top level of an importable module (Tune's
            trial processes import it by that name).
        env_config: the env's keyword arguments.
        settings: DynamiteSettings overrides for both presets (default: no EnvRunner
            actors, one CPU a trial).
        stream: where the plan and the training progress go (default: stdout).

    Raises:
        ValueError: a bad argument, env or setting; too few seeds for an env the
            separation gate judges (:data:`~.gates.MIN_SEEDS`). One line, before Ray.
        RuntimeError: a trial failed or did not finish.
    """
    plan = plan_calibration(
        env,
        env_config=env_config,
        stop_timesteps=stop_timesteps,
        seeds=seeds,
        episodes=episodes,
        evaluation_seed=evaluation_seed,
        settings=settings,
        output=output,
    )
    out = stream or sys.stdout
    experiment = plan.experiment
    for note in plan.notes:
        print(note, file=out)
    print(
        f"calibrating {experiment.env}: {', '.join(experiment.presets)} × seeds "
        f"{list(experiment.seeds)}, {experiment.stop_timesteps:,} env steps each; results "
        f"in {Path(output) / experiment.name}",
        file=out,
        flush=True,
    )
    from rllib_dynamite.experiments import run_experiment  # Ray loads here, after the checks

    summary = run_experiment(experiment, Path(output), stream=stream)
    if summary.failed:
        first = summary.failed[0]
        raise RuntimeError(f"{len(summary.failed)} trial(s) failed, {first.name}: {first.error}")
    if summary.unfinished:
        raise RuntimeError(f"{summary.unfinished} trial(s) did not finish")
    table = evaluate_trials(
        [trial.path for trial in summary.trials], episodes, evaluation_seed, out
    )
    ((variant, values),) = table.items()
    return _report(variant, values, plan.references, episodes, evaluation_seed, list(plan.notes))


def plan_calibration(
    env: EnvLike,
    *,
    env_config: Mapping[str, Any] | None = None,
    stop_timesteps: int = DEFAULT_STOP_TIMESTEPS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    episodes: int = DEFAULT_EPISODES,
    evaluation_seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    output: str | Path = "results",
) -> CalibrationPlan:
    """Check every argument of :func:`calibrate` and play the scripted references;
    nothing of Ray starts. ``ValueError`` (one line) for anything wrong; the cheap
    checks come first, before Ray and torch load."""
    from rllib_dynamite.calibration.gates import MIN_SEEDS, needs_separation
    from rllib_dynamite.settings import validate_settings

    _check_budget(stop_timesteps, seeds, episodes)
    env_config = dict(env_config or {})
    if "oracle" in env_config:
        raise ValueError("env_config sets 'oracle': the oracle preset sets it, markov_ppo not")
    settings = {**DEFAULT_SETTINGS, **dict(settings or {}), "env_config": env_config}
    validate_settings(settings)
    name = _env_name(env)
    entry = resolve_env(name)
    takes_oracle = entry.open_parameters or "oracle" in entry.parameters
    presets = [p for p in MEMORYLESS_PRESETS if takes_oracle or p != "oracle"]
    notes = () if takes_oracle else (
        f"{name} takes no 'oracle' argument: calibrating markov_ppo only",
    )  # fmt: skip
    labels = probe_env(entry, env_config).labels
    missing = [label for label in EVALUATION_LABELS if label not in labels]
    if missing:
        raise ValueError(
            f"env {name!r}: its step info lacks {missing}, which greedy evaluation reads "
            "(docs/custom_envs.md)"
        )
    references = references_for(name, env_config, episodes, evaluation_seed)
    separated = [preset for preset in presets if needs_separation(preset, references)]
    if separated and len(seeds) < MIN_SEEDS:
        raise ValueError(
            f"{name}: the gate of {' and '.join(separated)} is clear separation (no scripted "
            f"reference to reach), which needs ≥ {MIN_SEEDS} seeds; got {len(seeds)}"
        )
    from rllib_dynamite.experiments import experiment_from_dict

    experiment = experiment_from_dict(
        {
            "name": _free_name(Path(output), f"calibration_{short_name(name)}"),
            "env": name,
            "presets": presets,
            "seeds": list(seeds),
            "stop_timesteps": stop_timesteps,
            "checkpoint_frequency": 0,
            "evaluation_interval": 0,
            "settings": settings,
        }
    )
    return CalibrationPlan(experiment, references, notes)


def calibrate_results(
    results: Sequence[str | Path],
    *,
    env: EnvLike | None = None,
    env_config: Mapping[str, Any] | None = None,
    episodes: int = DEFAULT_EPISODES,
    evaluation_seed: int = 0,
    stream: TextIO | None = None,
) -> list[CalibrationReport]:
    """Judge trials already trained: the ``oracle`` and ``markov_ppo`` trials under the
    Tune ``results`` directories (of ``env`` and ``env_config`` only, where given), one
    report per env configuration. A preset with too few seeds for its gate gets
    ``INCONCLUSIVE``.

    Raises:
        FileNotFoundError: a missing directory, no such trial, a trial without a
            checkpoint.
        ValueError: one seed of a preset in two trials, or a bad ``env``.
    """
    if episodes <= 0:
        raise ValueError(f"episodes must be > 0, got {episodes}")
    trials = _trials([Path(path) for path in results])
    if env is not None:
        name = resolve_env(_env_name(env)).name
        trials = [t for t in trials if resolve_env(t[1]["env"]).name == name]
    if env_config is not None:
        wanted = json.dumps(dict(env_config), sort_keys=True)
        trials = [t for t in trials if _variant(t[1])[1] == wanted]
    if not trials:
        raise FileNotFoundError(
            f"no oracle or markov_ppo trial of {env or 'any env'} under {[str(r) for r in results]}"
        )
    out = stream or sys.stdout
    table = evaluate_trials([path for path, _ in trials], episodes, evaluation_seed, out)
    reports = []
    for (name, config), values in sorted(table.items()):
        references = references_for(name, json.loads(config), episodes, evaluation_seed)
        notes = []
        if "oracle" not in values:
            entry = resolve_env(name)
            takes = entry.open_parameters or "oracle" in entry.parameters
            notes.append(
                "no oracle trials" + ("" if takes else f": {name} takes no 'oracle' argument")
            )
        reports.append(
            _report((name, config), values, references, episodes, evaluation_seed, notes)
        )
    return reports


def references_for(
    env: str, env_config: Mapping[str, Any], episodes: int, seed: int
) -> dict[str, Reference]:
    """The env's scripted references, or the random policy's alone where it has none."""
    from rllib_dynamite.envs import make
    from rllib_dynamite.evaluation.scripted import (
        NoScriptedReferences,
        random_reference,
        scripted_references,
    )

    instance = make(env, **env_config)
    try:
        return scripted_references(instance, episodes, seed)
    except NoScriptedReferences:
        return {"random": random_reference(instance, episodes, seed)}
    finally:
        instance.close()


def evaluate_trials(
    trial_dirs: Sequence[Path], episodes: int, seed: int, stream: TextIO | None = None
) -> dict[Variant, dict[str, dict[int, float]]]:
    """``{(env, env_config JSON): {preset: {training seed: greedy return}}}`` of the
    final checkpoints of ``trial_dirs``, each on ``episodes`` episodes seeded ``seed``.

    Raises:
        ValueError: one seed of a preset in two trials (it would count twice).
    """
    from rllib_dynamite.evaluation import Evaluator
    from rllib_dynamite.evaluation.checkpoints import find_checkpoint

    table: dict[Variant, dict[str, dict[int, float]]] = defaultdict(dict)
    where: dict[tuple[Variant, str, int], Path] = {}
    for trial_dir in trial_dirs:
        config = json.loads((Path(trial_dir) / "params.json").read_text())
        variant, preset, seed_trained = (
            _variant(config),
            config["preset"],
            config["settings"]["seed"],
        )
        if (variant, preset, seed_trained) in where:
            raise ValueError(
                f"seed {seed_trained} of {preset} is in two trials, "
                f"{where[variant, preset, seed_trained]} and {trial_dir}: pass one of them"
            )
        where[variant, preset, seed_trained] = Path(trial_dir)
        evaluator = Evaluator.from_checkpoint(find_checkpoint(trial_dir), seed=seed)
        try:
            report = evaluator.evaluate(episodes, with_figure=False)
        finally:
            evaluator.stop()
        value = float(report.metrics["episode_return_mean"])
        table[variant].setdefault(preset, {})[seed_trained] = value
        print(f"  {Path(trial_dir).name}: greedy return {value:.2f}", file=stream, flush=True)
    return dict(table)


def _report(
    variant: Variant,
    values: dict[str, dict[int, float]],
    references: dict[str, Reference],
    episodes: int,
    evaluation_seed: int,
    notes: list[str],
) -> CalibrationReport:
    from rllib_dynamite.calibration.gates import judge

    by_preset = {preset: [v for _, v in sorted(seeds.items())] for preset, seeds in values.items()}
    return CalibrationReport(
        env=variant[0],
        env_config=json.loads(variant[1]),
        episodes=episodes,
        evaluation_seed=evaluation_seed,
        references=references,
        values={preset: dict(sorted(seeds.items())) for preset, seeds in values.items()},
        gates=judge(by_preset, references),
        notes=notes,
    )


def _check_budget(stop_timesteps: int, seeds: Sequence[int], episodes: int) -> None:
    for what, value in (("stop_timesteps", stop_timesteps), ("episodes", episodes)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{what} must be an integer > 0, got {value!r}")
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers, got {list(seeds)!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat: {list(seeds)}")


def _env_name(env: EnvLike) -> str:
    """The name Tune's trials build ``env`` from; a class or factory must be importable
    by it, as trial processes do not share the caller's objects."""
    if isinstance(env, str):
        return resolve_env(env).name
    name = resolve_env(env).name
    try:
        importable = resolve_env(name).factory is env
    except ValueError:
        importable = False
    if not importable:
        raise ValueError(
            f"env {name!r} is not importable by that name, which Tune's trials build it "
            "from: define it at the top level of a module, or pass 'package.module:attr'"
        )
    return name


def _free_name(output: Path, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``, ...: the first not yet a directory under
    ``output`` (a calibration reads only its own trials)."""
    candidate, number = name, 1
    while (output / candidate).exists():
        number += 1
        candidate = f"{name}-{number}"
    return candidate


def _trials(results: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    trials = []
    for results_dir in results:
        if not results_dir.is_dir():
            raise FileNotFoundError(f"no such results directory: {results_dir}")
        for params in sorted(results_dir.rglob("params.json")):
            config = json.loads(params.read_text())
            if config.get("preset") in MEMORYLESS_PRESETS:
                trials.append((params.parent, config))
    return trials


def _variant(config: dict[str, Any]) -> Variant:
    env_config = dict(config["settings"].get("env_config", {}))
    return config["env"], json.dumps(env_config, sort_keys=True)
