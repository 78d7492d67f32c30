"""Calibration: can the RL machinery learn an env at all? (``rllib-dynamite calibrate``)

Before a study spends compute on an env, its two memoryless presets show whether PPO
learns it: ``oracle``, which sees the true latent, is the upper bound of every method,
and ``markov_ppo``, which sees the observation alone, the floor a belief must beat.
:func:`calibrate` trains both on a few seeds at a short budget through Tune, plays each
final checkpoint greedily beside the env's scripted references, and returns a
:class:`CalibrationReport` with one verdict per preset; :func:`calibrate_results` judges
trials already trained. :mod:`.gates` states the rules.

The names load on first use: ``rllib-dynamite --help`` imports this package's ``cli``
module, and none of Ray, torch or SciPy should load for that.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rllib_dynamite.calibration.gates import Gate, judge
    from rllib_dynamite.calibration.run import (
        CalibrationReport,
        calibrate,
        calibrate_results,
        references_for,
    )

_EXPORTS = {
    "CalibrationReport": "run",
    "calibrate": "run",
    "calibrate_results": "run",
    "references_for": "run",
    "Gate": "gates",
    "judge": "gates",
}
__all__ = [
    "CalibrationReport",
    "Gate",
    "calibrate",
    "calibrate_results",
    "judge",
    "references_for",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
