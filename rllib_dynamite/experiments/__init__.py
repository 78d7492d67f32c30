"""Experiments as users run them: YAML files, Ray Tune launches, progress (docs/configs.md)."""

from rllib_dynamite.experiments.launch import RunSummary, describe, init_ray, run_experiment
from rllib_dynamite.experiments.schema import (
    Experiment,
    Resources,
    experiment_from_dict,
    load_experiment,
    validate_experiment,
)
from rllib_dynamite.experiments.trainable import DynamiteTrainable

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
