"""Find an Algorithm checkpoint from what a user points at."""

from __future__ import annotations

from pathlib import Path

from rllib_dynamite.checkpoint_integrity import COMPLETE_MARKER

ALGORITHM_STATE = "algorithm_state.pkl"


def find_checkpoint(path: str | Path) -> Path:
    """``path`` itself if it is an Algorithm checkpoint, else the latest checkpoint of
    the one trial under it (a trial or a ``train`` run directory).

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no checkpoint.
        ValueError: checkpoints of several trials are under ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such checkpoint or directory: {path}")
    if (path / ALGORITHM_STATE).is_file():
        return path
    checkpoints = sorted(p.parent for p in path.rglob(ALGORITHM_STATE))
    # A kill while Tune copies a checkpoint leaves a partial newest directory; trust only
    # the ones Tune recorded (checkpoint_integrity.MarkCompleteCheckpoints) when marked.
    complete = [p for p in checkpoints if (p / COMPLETE_MARKER).is_file()]
    checkpoints = complete or checkpoints
    if not checkpoints:
        raise FileNotFoundError(f"no checkpoint under {path}")
    trials = sorted({p.parent for p in checkpoints})
    if len(trials) > 1:
        raise ValueError(
            f"{path} holds checkpoints of {len(trials)} trials; pass one of them, "
            f"e.g. {max(p for p in checkpoints if p.parent == trials[0])}"
        )
    return checkpoints[-1]
