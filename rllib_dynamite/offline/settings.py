"""Settings of an offline run and their YAML file (docs/offline.md).

An offline run has the online run's :class:`~rllib_dynamite.config.DynamiteSettings`
(belief model, switches, policy network, γ) plus :class:`OfflineSettings` (how long to
train each stage, which RLlib offline learner). A ``--config`` YAML file holds either
block::

    settings: {kl_weight: 0.01, vae_batch_episodes: 25}   # DynamiteSettings fields
    offline: {belief_steps: 3000, algorithm: marwil}       # OfflineSettings fields
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from rllib_dynamite.settings import ConfigError, _closest, _describe, _type_ok

# Presets of the offline pipeline: the belief-model presets of method.md §4, and ``bc``,
# behaviour cloning on the env's observation alone (no belief model).
BELIEF_PRESETS = ("dynamite", "varibad", "no_consistency", "no_conditioning", "no_masking")
OFFLINE_PRESETS = (*BELIEF_PRESETS, "bc")
ALGORITHMS = ("auto", "marwil", "bc", "cql", "iql")
CONTINUOUS_ONLY_ALGORITHMS = ("cql", "iql")


@dataclass
class OfflineSettings:
    """The offline pipeline's own settings. Field comments are the one-line help."""

    belief_steps: int = 2_000  # belief-model gradient steps (batches of vae_batch_episodes)
    algorithm: Literal["auto", "marwil", "bc", "cql", "iql"] = "auto"  # auto: marwil/cql
    rl_iterations: int = 300  # offline-RL training iterations (one update each)
    rl_batch_size: int = 512  # transitions per offline-RL update
    rl_lr: float = 1e-3  # offline-RL learning rate (marwil, bc)
    marwil_beta: float = 1.0  # MARWIL's advantage temperature β (0: behaviour cloning)
    eval_episodes: int = 25  # greedy evaluation episodes in the env
    no_session_labels: bool = False  # label-free: sessions from the termination head
    label_free_threshold: float = 1.0  # nats of surprise that open a session (label-free)
    label_free_warmup: float = 0.25  # fraction of belief steps with one session per episode
    log_interval: int = 50  # belief steps / RL iterations between log lines

    def algorithm_for(self, discrete_actions: bool, behaviour_cloning: bool = False) -> str:
        """The RLlib learner used: ``algorithm``, or for ``auto`` BC with
        ``behaviour_cloning`` (the ``bc`` preset), else MARWIL (discrete actions) or CQL."""
        if self.algorithm == "auto":
            if behaviour_cloning:
                return "bc"
            return "marwil" if discrete_actions else "cql"
        if discrete_actions and self.algorithm in CONTINUOUS_ONLY_ALGORITHMS:
            raise ConfigError(
                f"algorithm {self.algorithm!r} needs continuous actions; for discrete actions "
                "use 'marwil' or 'bc'"
            )
        return self.algorithm


OFFLINE_SETTING_TYPES = typing.get_type_hints(OfflineSettings)


def offline_settings(**values: Any) -> OfflineSettings:
    """:class:`OfflineSettings` from ``values``, names, types and ranges checked."""
    for name, value in values.items():
        if name not in OFFLINE_SETTING_TYPES:
            raise ConfigError(
                f"unknown offline setting {name!r}{_closest(name, OFFLINE_SETTING_TYPES)}"
            )
        annotation = OFFLINE_SETTING_TYPES[name]
        if not _type_ok(value, annotation):
            raise ConfigError(
                f"offline setting {name!r} must be {_describe(annotation)}, got {value!r}"
            )
    settings = OfflineSettings(**values)
    for name in ("rl_batch_size", "eval_episodes", "log_interval", "rl_lr"):
        if getattr(settings, name) <= 0:
            raise ConfigError(
                f"offline setting {name!r} must be > 0, got {getattr(settings, name)}"
            )
    for name in ("belief_steps", "rl_iterations"):
        if getattr(settings, name) < 0:
            raise ConfigError(
                f"offline setting {name!r} must be >= 0, got {getattr(settings, name)}"
            )
    for name in ("marwil_beta", "label_free_warmup"):
        if not 0.0 <= getattr(settings, name) <= 1.0:
            raise ConfigError(
                f"offline setting {name!r} must be in [0, 1], got {getattr(settings, name)}"
            )
    return settings


def load_offline_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(settings, offline)`` overrides from an offline YAML file (module docstring).

    Raises:
        FileNotFoundError: no such file.
        ConfigError: bad YAML or an unknown top-level key; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such config file: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: an offline config is a mapping with 'settings'/'offline'")
    for key, value in raw.items():
        if key not in ("settings", "offline"):
            raise ConfigError(f"{path}: unknown key {key!r}; allowed: 'settings', 'offline'")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {key} must be a mapping, got {value!r}")
    return dict(raw.get("settings") or {}), dict(raw.get("offline") or {})


def as_dict(settings: Any) -> dict[str, Any]:
    """A dataclass's fields as a plain dict (for run.json)."""
    return dataclasses.asdict(settings)
