"""Load a file of ``scripts/`` or ``benchmarks/`` (not a package) as a module."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load(relative_path: str) -> ModuleType:
    """The module at ``ROOT / relative_path``, e.g. ``scripts/seed_streams.py``."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
