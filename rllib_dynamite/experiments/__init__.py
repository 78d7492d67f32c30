"""Experiments as users run them: YAML files, Ray Tune launches, progress (docs/configs.md).

The names are imported on first use (PEP 562): reading and checking a file
(:mod:`~rllib_dynamite.experiments.schema`) loads neither Ray nor torch, so the CLI
refuses a bad file before they load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Name -> the module that defines it.
_LAZY: dict[str, str] = {
    "DynamiteTrainable": "rllib_dynamite.experiments.trainable",
    "Experiment": "rllib_dynamite.experiments.schema",
    "Resources": "rllib_dynamite.experiments.schema",
    "RunSummary": "rllib_dynamite.experiments.launch",
    "describe": "rllib_dynamite.experiments.launch",
    "experiment_from_dict": "rllib_dynamite.experiments.schema",
    "init_ray": "rllib_dynamite.experiments.launch",
    "load_experiment": "rllib_dynamite.experiments.schema",
    "run_experiment": "rllib_dynamite.experiments.launch",
    "validate_experiment": "rllib_dynamite.experiments.schema",
}

if TYPE_CHECKING:
    from rllib_dynamite.experiments.launch import RunSummary, describe, init_ray, run_experiment
    from rllib_dynamite.experiments.schema import (
        Experiment,
        Resources,
        experiment_from_dict,
        load_experiment,
        validate_experiment,
    )
    from rllib_dynamite.experiments.trainable import DynamiteTrainable


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'rllib_dynamite.experiments' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DynamiteTrainable",
    "Experiment",
    "Resources",
    "RunSummary",
    "describe",
    "experiment_from_dict",
    "init_ray",
    "load_experiment",
    "run_experiment",
    "validate_experiment",
]
