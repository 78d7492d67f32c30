"""Evaluation of trained policies: metrics, belief pictures, reports (docs/usage.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rllib_dynamite.evaluation.records import EpisodeRecord
from rllib_dynamite.evaluation.rollout import EvaluationReport, Evaluator

__all__ = ["EpisodeRecord", "EvaluationReport", "Evaluator", "write_json"]


def write_json(report: EvaluationReport, path: str | Path, checkpoint: str | None = None) -> Path:
    """Write ``report``'s metrics (NaN as ``null``) and per-episode summaries (return,
    sessions, length and the env's declared info metrics) to ``path``."""
    payload: dict[str, Any] = {
        "env": report.env_id,
        "checkpoint": checkpoint,
        "metrics": _finite(report.metrics),
        "episodes": [
            {
                "return": e.episode_return,
                "sessions": int(e.session_ids[-1]) + 1,
                "length": len(e.rewards),
                **e.info_metrics,
            }
            for e in report.episodes
        ],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
