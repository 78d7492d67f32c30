"""rllib-dynamite: DynaMITE-RL on Ray RLlib's new API stack.

Importing the package registers every DLCMDP env id with gymnasium and with RLlib. The
names a user needs come from the package itself (``from rllib_dynamite import
make_config``); those that pull in torch and RLlib's algorithms are imported on first
use, so ``import rllib_dynamite`` costs no more than registering the envs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rllib_dynamite.envs import ENV_IDS, DLCMDPEnv, DLCMDPWrapper, register_with_rllib

register_with_rllib()

__version__ = "0.1.0"

# Name -> the module that defines it, imported when the name is first read (PEP 562).
_LAZY: dict[str, str] = {
    "ConfigError": "rllib_dynamite.config",
    "DynamiteConfig": "rllib_dynamite.config",
    "DynamiteSettings": "rllib_dynamite.config",
    "PRESETS": "rllib_dynamite.config",
    "make_config": "rllib_dynamite.config",
    "resolve_settings": "rllib_dynamite.config",
    "resolve_env": "rllib_dynamite.envs",
    "Evaluator": "rllib_dynamite.evaluation",
    "Experiment": "rllib_dynamite.experiments",
    "load_experiment": "rllib_dynamite.experiments",
    "run_experiment": "rllib_dynamite.experiments",
}

if TYPE_CHECKING:
    from rllib_dynamite.config import (
        PRESETS,
        ConfigError,
        DynamiteConfig,
        DynamiteSettings,
        make_config,
        resolve_settings,
    )
    from rllib_dynamite.envs import resolve_env
    from rllib_dynamite.evaluation import Evaluator
    from rllib_dynamite.experiments import Experiment, load_experiment, run_experiment


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'rllib_dynamite' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "PRESETS",
    "ConfigError",
    "DLCMDPEnv",
    "DLCMDPWrapper",
    "DynamiteConfig",
    "DynamiteSettings",
    "ENV_IDS",
    "Evaluator",
    "Experiment",
    "__version__",
    "load_experiment",
    "make_config",
    "resolve_env",
    "resolve_settings",
    "run_experiment",
]
