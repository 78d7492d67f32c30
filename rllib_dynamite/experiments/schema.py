"""Experiment YAML files: schema, validation and Tune's parameter space (docs/configs.md).

A file names one env, one or more presets, seeds, a budget and any
:class:`~rllib_dynamite.config.DynamiteSettings` overrides, where a value may be a Tune
grid ``{grid_search: [...]}``, and the user's code the env needs (``code:``, shipped to
every Ray node). :func:`load_experiment` checks everything, every grid point included,
before Ray starts: an unknown key is named with the closest valid one, a wrong type
names the field.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rllib_dynamite.envs.resolve import GUIDE, probe_env, resolve_env
from rllib_dynamite.experiments.renamed import renamed_to
from rllib_dynamite.presets import PRESETS
from rllib_dynamite.settings import ConfigError, validate_settings

GRID = "grid_search"
# The labels of the env's info that evaluation reads (rllib_dynamite.evaluation).
EVALUATION_LABELS = ("session_id", "latent")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and bool(value) and all(map(check, value))


_STRING = (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string")
_POSITIVE = (lambda v: _is_int(v) and v > 0, "an integer > 0")
_NON_NEGATIVE = (lambda v: _is_int(v) and v >= 0, "an integer >= 0")
_MAPPING = (lambda v: isinstance(v, dict), "a mapping")
_PATHS = (_list_of(_STRING[0]), "a non-empty list of paths")

# key: (check, type in words, one-line help). Order is the documented order.
TOP_LEVEL: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "name": (
        lambda v: _STRING[0](v) and "/" not in v,
        "a non-empty string without '/'",
        "experiment name: results go to OUTPUT/NAME (default: the file's stem)",
    ),
    "description": (lambda v: isinstance(v, str), "a string", "free text, for readers"),
    "env": (*_STRING, "a registered env id, or 'package.module:attr' (docs/custom_envs.md)"),
    "preset": (*_STRING, "one preset (method.md §4); or use `presets`"),
    "presets": (
        _list_of(_STRING[0]),
        "a non-empty list of strings",
        "several presets, one grid axis",
    ),
    "seeds": (
        _list_of(_is_int),
        "a non-empty list of integers",
        "one trial per seed (default [0])",
    ),
    "stop_timesteps": (*_POSITIVE, "stop a trial after this many env steps sampled"),
    "checkpoint_frequency": (*_NON_NEGATIVE, "checkpoint every N iterations (0: only at the end)"),
    "keep_checkpoints": (*_POSITIVE, "checkpoints kept per trial, the newest (default 3)"),
    "num_samples": (*_POSITIVE, "Tune's num_samples: repeats of every grid point (default 1)"),
    "evaluation_interval": (*_NON_NEGATIVE, "evaluate every N iterations and at the end (0: off)"),
    "evaluation_episodes": (*_POSITIVE, "episodes per evaluation (default 10)"),
    "evaluation_explore": (
        lambda v: isinstance(v, bool),
        "true or false",
        "sample actions in evaluation (default false: greedy, as VariBAD)",
    ),
    "settings": (*_MAPPING, "DynamiteSettings fields; a value may be {grid_search: [...]}"),
    "resources": (*_MAPPING, "the embedded local Ray and trial concurrency (below)"),
    "code": (*_MAPPING, "the Python code the env needs, shipped to every Ray node (below)"),
}
RESOURCES: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "num_cpus": (
        *_POSITIVE,
        "CPUs of the embedded local Ray (default: all); ignored with --address",
    ),
    "object_store_memory_mb": (
        *_POSITIVE,
        "object store of the embedded local Ray, MiB (default 300)",
    ),
    "max_concurrent_trials": (*_POSITIVE, "trials at once (default: as many as the CPUs fit)"),
}
CODE: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "py_modules": (
        *_PATHS,
        "modules (.py files) and package directories the env imports (runtime_env py_modules)",
    ),
    "working_dir": (
        *_STRING,
        "a directory copied to every node, the workers' working directory (runtime_env)",
    ),
}


@dataclass(frozen=True)
class Resources:
    """The ``resources:`` block (see :data:`RESOURCES`)."""

    num_cpus: int | None = None
    object_store_memory_mb: int = 300
    max_concurrent_trials: int | None = None


@dataclass(frozen=True)
class Code:
    """The ``code:`` block (see :data:`CODE`), as absolute paths.

    The trials, the env runners and every Ray node import the env's code from these
    paths: Ray's ``runtime_env`` ships them to each node (``working_dir`` becomes the
    workers' working directory), and :meth:`add_to_path` makes them importable in the
    command's own process.
    """

    py_modules: tuple[Path, ...] = ()
    working_dir: Path | None = None

    def runtime_env(self) -> dict[str, Any] | None:
        """Ray's ``runtime_env`` for ``ray.init``; ``None`` with nothing to ship."""
        runtime_env: dict[str, Any] = {}
        if self.py_modules:
            runtime_env["py_modules"] = [str(path) for path in self.py_modules]
        if self.working_dir is not None:
            runtime_env["working_dir"] = str(self.working_dir)
        return runtime_env or None

    def add_to_path(self) -> None:
        """Put each module's directory and the working directory on ``sys.path``."""
        directories = [path.parent for path in self.py_modules]
        directories += [self.working_dir] if self.working_dir is not None else []
        for directory in map(str, directories):
            if directory not in sys.path:
                sys.path.insert(0, directory)


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file (see :data:`TOP_LEVEL` for each field)."""

    name: str
    env: str
    presets: tuple[str, ...] = ("dynamite",)
    seeds: tuple[int, ...] = (0,)
    stop_timesteps: int = 1_000_000
    checkpoint_frequency: int = 10
    keep_checkpoints: int = 3
    num_samples: int = 1
    evaluation_interval: int = 10
    evaluation_episodes: int = 10
    evaluation_explore: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    code: Code = field(default_factory=Code)
    description: str = ""

    def grid_points(self) -> Iterator[dict[str, Any]]:
        """Every concrete ``settings`` dict the sweep will run (grids expanded)."""
        return expand_grid(self.settings)

    @property
    def num_trials(self) -> int:
        points = sum(1 for _ in self.grid_points())
        return len(self.presets) * len(self.seeds) * points * self.num_samples

    def param_space(self) -> dict[str, Any]:
        """Tune's parameter space: the trial config that
        :class:`~rllib_dynamite.experiments.trainable.DynamiteTrainable` builds from."""
        return {
            "env": self.env,
            "preset": _maybe_grid(self.presets),
            "settings": {**copy.deepcopy(self.settings), "seed": _maybe_grid(self.seeds)},
            "stop_timesteps": self.stop_timesteps,
            "evaluation_interval": self.evaluation_interval,
            "evaluation_episodes": self.evaluation_episodes,
            "evaluation_explore": self.evaluation_explore,
        }


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment YAML file.

    Raises:
        FileNotFoundError: no such file; for a file of ``tune_configs/`` that moved,
            the message names its new path.
        ConfigError: bad YAML, an unknown key, a wrong type or a bad value; the message
            starts with the file name and names the key.
    """
    path = Path(path)
    if not path.is_file():
        new = renamed_to(path)
        if new is not None:
            raise FileNotFoundError(
                f"no such experiment file: {path}; it is now {new} (docs/configs.md)"
            )
        raise FileNotFoundError(f"no such experiment file: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    try:
        return experiment_from_dict(raw, default_name=path.stem, base_dir=path.parent)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def experiment_from_dict(
    raw: Any, default_name: str = "experiment", base_dir: Path | None = None
) -> Experiment:
    """Validate a parsed experiment (see :func:`load_experiment`); the ``code:`` paths
    are relative to ``base_dir`` (the file's directory; default: the working directory)."""
    if not isinstance(raw, dict):
        raise ConfigError("an experiment file must be a mapping of keys (name, env, ...)")
    _check_keys(raw, TOP_LEVEL, "")
    if "preset" in raw and "presets" in raw:
        raise ConfigError("give either 'preset' or 'presets', not both")
    if "env" not in raw:
        raise ConfigError("missing key 'env'")
    presets = raw.get("presets", [raw.get("preset", "dynamite")])
    settings = raw.get("settings") or {}
    resources = raw.get("resources") or {}
    _check_keys(resources, RESOURCES, "resources.")
    scalars = {k: raw[k] for k in TOP_LEVEL if k in raw and k not in _STRUCTURED}
    experiment = Experiment(
        **{**{"name": default_name}, **scalars},
        presets=tuple(presets),
        seeds=tuple(raw.get("seeds", [0])),
        settings=settings,
        resources=Resources(**resources),
        code=_code(raw.get("code") or {}, base_dir or Path.cwd()),
    )
    validate_experiment(experiment)
    return experiment


_STRUCTURED = ("preset", "presets", "seeds", "settings", "resources", "code")


def _code(raw: dict[str, Any], base_dir: Path) -> Code:
    _check_keys(raw, CODE, "code.")
    py_modules = tuple((base_dir / path).resolve() for path in raw.get("py_modules", []))
    for path in py_modules:
        if not path.exists():
            raise ConfigError(f"code.py_modules: no such file or directory: {path}")
        if not (path.is_dir() or path.suffix == ".py"):
            raise ConfigError(f"code.py_modules: {path} is neither a .py file nor a directory")
    working_dir = raw.get("working_dir")
    if working_dir is not None:
        working_dir = (base_dir / working_dir).resolve()
        if not working_dir.is_dir():
            raise ConfigError(f"code.working_dir: no such directory: {working_dir}")
    return Code(py_modules, working_dir)


def validate_experiment(experiment: Experiment) -> None:
    """Check every value, the env, presets and settings: resolve every (preset, grid
    point), which builds the env, so a bad value fails here rather than in a trial.
    Names are checked first, before the env is built and RLlib and torch load."""
    for key in TOP_LEVEL:
        if key not in _STRUCTURED:
            check, kind, _ = TOP_LEVEL[key]
            if not check(getattr(experiment, key)):
                raise ConfigError(f"{key} must be {kind}, got {getattr(experiment, key)!r}")
    for preset in experiment.presets:
        if preset not in PRESETS:
            raise ConfigError(f"preset: unknown preset {preset!r}{_closest(preset, PRESETS)}")
    if "seed" in experiment.settings:
        raise ConfigError("settings.seed: give seeds with the top-level 'seeds' list")
    for point in experiment.grid_points():
        try:
            validate_settings(point)
        except ConfigError as error:
            raise ConfigError(f"settings: {error}") from None
    experiment.code.add_to_path()
    try:
        resolve_env(experiment.env)
    except ValueError as error:
        raise ConfigError(f"env: {error}") from None
    from rllib_dynamite.config import resolve_settings  # RLlib and torch, once names are good

    env_kwargs_seen: list[dict[str, Any]] = []
    for preset, point in itertools.product(experiment.presets, experiment.grid_points()):
        try:
            settings = resolve_settings(experiment.env, preset, **point, seed=experiment.seeds[0])
        except ConfigError as error:
            raise ConfigError(f"settings: {error}") from None
        if experiment.evaluation_interval and settings.env_kwargs not in env_kwargs_seen:
            env_kwargs_seen.append(settings.env_kwargs)
            _check_evaluation_labels(experiment.env, settings.env_kwargs)


def _check_evaluation_labels(env: str, env_kwargs: dict[str, Any]) -> None:
    labels = probe_env(resolve_env(env), env_kwargs).labels
    missing = [label for label in EVALUATION_LABELS if label not in labels]
    if missing:
        raise ConfigError(
            f"evaluation_interval: evaluation reads the labels {missing}, which the step info "
            f"of env {env!r} lacks (see {GUIDE}); set evaluation_interval: 0 (train: "
            "--eval-interval 0)"
        )


def expand_grid(settings: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each combination of the ``{grid_search: [...]}`` values in ``settings`` (top-level
    fields, and keys of ``env_config``)."""
    axes = list(_grid_axes(settings))
    for values in itertools.product(*(options for _, options in axes)):
        point = copy.deepcopy(settings)
        for (keys, _), value in zip(axes, values, strict=True):
            target = point
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = value
        yield point


def restrict_grid(settings: dict[str, Any], axis: str, values: list[Any]) -> dict[str, Any]:
    """``settings`` with the grid named ``axis`` (a top-level field, or a key of
    ``env_config``, e.g. ``p``) cut down to ``values``, each of which must be among the
    grid's. ``ConfigError`` for an axis the settings do not grid over or a value not in it.
    """
    axes = {keys[-1]: (keys, options) for keys, options in _grid_axes(settings)}
    axes |= {".".join(keys): (keys, options) for keys, options in axes.values()}
    if axis not in axes:
        grids = sorted({".".join(keys) for keys, _ in axes.values()})
        raise ConfigError(f"--grid {axis}: the file grids over {grids or 'nothing'}")
    keys, options = axes[axis]
    unknown = [value for value in values if value not in options]
    if unknown:
        raise ConfigError(f"--grid {axis}={unknown} not among the grid's values {options}")
    restricted = copy.deepcopy(settings)
    target = restricted
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = _maybe_grid(tuple(values))
    return restricted


def _grid_axes(settings: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], list[Any]]]:
    for key, value in settings.items():
        if _is_grid(value, f"settings.{key}"):
            yield (key,), value[GRID]
        elif key == "env_config" and isinstance(value, dict):
            for env_key, env_value in value.items():
                if _is_grid(env_value, f"settings.env_config.{env_key}"):
                    yield (key, env_key), env_value[GRID]


def _is_grid(value: Any, where: str) -> bool:
    if not (isinstance(value, dict) and GRID in value):
        return False
    if set(value) != {GRID} or not isinstance(value[GRID], list) or not value[GRID]:
        raise ConfigError(f"{where}: a grid is {{{GRID}: [value, ...]}} with a non-empty list")
    return True


def _check_keys(raw: dict[str, Any], schema: dict[str, tuple], prefix: str) -> None:
    for key, value in raw.items():
        if key not in schema:
            raise ConfigError(f"unknown key '{prefix}{key}'{_closest(str(key), schema, prefix)}")
        check, kind, _ = schema[key]
        if not check(value):
            raise ConfigError(f"{prefix}{key} must be {kind}, got {value!r}")


def _closest(name: str, candidates: Any, prefix: str = "") -> str:
    match = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean '{prefix}{match[0]}'?)" if match else ""


def _maybe_grid(values: tuple[Any, ...]) -> Any:
    return values[0] if len(values) == 1 else {GRID: list(values)}
