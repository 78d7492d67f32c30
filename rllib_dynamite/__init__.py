"""rllib-dynamite: DynaMITE-RL on Ray RLlib's new API stack.

Importing the package registers every DLCMDP env id with gymnasium, and with RLlib (Ray
Tune's registry) once Ray Tune is imported, before or after the package. The names a
user needs come from the package itself (``from rllib_dynamite import make_config``);
those that pull in Ray, torch and RLlib's algorithms are imported on first use, so
``import rllib_dynamite`` costs no more than registering the envs with gymnasium, and
the CLI refuses a bad name before Ray loads.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from rllib_dynamite.envs import ENV_IDS, DLCMDPEnv, DLCMDPWrapper, register_with_rllib


class _RegisterWhenRayTuneLoads(importlib.abc.MetaPathFinder):
    """Finds ``ray.tune`` as usual, and registers the ids once it has run."""

    def find_spec(
        self, fullname: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "ray.tune":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenRegister(spec.loader)
        return spec


class _ThenRegister(importlib.abc.Loader):
    """A module's own loader, then :func:`~rllib_dynamite.envs.register_with_rllib`."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        register_with_rllib()


if "ray.tune" in sys.modules:
    register_with_rllib()
else:
    sys.meta_path.insert(0, _RegisterWhenRayTuneLoads())

__version__ = "0.1.0"

# Name -> the module that defines it, imported when the name is first read (PEP 562).
_LAZY: dict[str, str] = {
    "ConfigError": "rllib_dynamite.settings",
    "DynamiteConfig": "rllib_dynamite.config",
    "DynamiteSettings": "rllib_dynamite.settings",
    "PRESETS": "rllib_dynamite.presets",
    "make_config": "rllib_dynamite.config",
    "resolve_settings": "rllib_dynamite.config",
    "resolve_env": "rllib_dynamite.envs",
    "Evaluator": "rllib_dynamite.evaluation",
    "Experiment": "rllib_dynamite.experiments",
    "load_experiment": "rllib_dynamite.experiments",
    "run_experiment": "rllib_dynamite.experiments",
}

if TYPE_CHECKING:
    from rllib_dynamite.config import DynamiteConfig, make_config, resolve_settings
    from rllib_dynamite.envs import resolve_env
    from rllib_dynamite.evaluation import Evaluator
    from rllib_dynamite.experiments import Experiment, load_experiment, run_experiment
    from rllib_dynamite.presets import PRESETS
    from rllib_dynamite.settings import ConfigError, DynamiteSettings


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
