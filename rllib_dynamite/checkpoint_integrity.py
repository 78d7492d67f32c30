"""Checkpoints a kill cannot corrupt: a marker on each complete one, and recovery of a
trial whose registered checkpoint is gone (cluster/README.md, "Fault tolerance").

Tune writes each checkpoint to its own directory (``checkpoint_000007``), copying file
by file, and registers it in the experiment state only once the copy is done; a
resumed run restores from the registered one. A kill during the copy therefore leaves
the previous checkpoint untouched and in use, but also a partial newest directory
that "the latest ``checkpoint_*``" would pick. The driver marks each registered
checkpoint complete, so tools pick the newest complete one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pyarrow.fs import FileSelector, FileType
from ray import tune

logger = logging.getLogger(__name__)

COMPLETE_MARKER = ".checkpoint_complete"


class MarkCompleteCheckpoints(tune.Callback):
    """Write :data:`COMPLETE_MARKER` into every checkpoint Tune has registered."""

    def on_checkpoint(
        self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any
    ) -> None:
        marker = f"{checkpoint.path.rstrip('/')}/{COMPLETE_MARKER}"
        with checkpoint.filesystem.open_output_stream(marker) as stream:
            stream.write(
                f"training_iteration: {trial.last_result.get('training_iteration')}\n".encode()
            )


def _marked_iteration(filesystem: Any, checkpoint_path: str) -> int | None:
    """The training iteration in a checkpoint's marker, ``None`` if it has none."""
    try:
        with filesystem.open_input_stream(f"{checkpoint_path}/{COMPLETE_MARKER}") as stream:
            text = stream.read().decode()
    except (FileNotFoundError, OSError):
        return None
    value = text.partition(":")[2].strip()
    return int(value) if value.isdigit() else 0


def _result_rows(filesystem: Any, trial_path: str) -> dict[int, dict]:
    """The trial's ``result.json`` rows by training iteration (the last of repeats)."""
    try:
        with filesystem.open_input_stream(f"{trial_path}/result.json") as stream:
            lines = stream.read().decode().splitlines()
    except (FileNotFoundError, OSError):
        return {}
    rows = {}
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the kill
            continue
        rows[row.get("training_iteration", 0)] = row
    return rows


def recover_lost_checkpoint(trial: Any) -> str | None:
    """Re-register a trial's complete checkpoints if its registered newest one is gone.

    Tune deletes a trial's oldest checkpoint as soon as it registers one more than
    ``num_to_keep``, but writes that registration into its experiment state only at the
    next snapshot, which it skips while the previous one is still being copied. A driver
    killed in between leaves an experiment state whose newest checkpoint no longer
    exists, beside newer complete ones, and ``Tuner.restore`` fails with "does not exist
    on storage anymore". This points the trial at the complete checkpoints on storage,
    the newest last, and numbers its next checkpoint after them.

    Returns the path the trial will restore from, or ``None`` when nothing was changed
    (no checkpoint registered, it exists, or no complete one is left).
    """
    from ray.train._internal.checkpoint_manager import _CheckpointManager, _TrainingResult

    registered = trial.latest_checkpoint_result
    if registered is None:
        return None
    checkpoint = registered.checkpoint
    if checkpoint.filesystem.get_file_info(checkpoint.path).type != FileType.NotFound:
        return None
    storage = trial.storage
    filesystem, trial_path = storage.storage_filesystem, storage.trial_fs_path
    listed = filesystem.get_file_info(FileSelector(trial_path, allow_not_found=True))
    complete = sorted(
        (info.path, iteration)
        for info in listed
        if info.type == FileType.Directory
        and info.base_name.startswith("checkpoint_")
        and (iteration := _marked_iteration(filesystem, info.path)) is not None
    )
    if not complete:
        logger.error("trial %s: its checkpoint %s is gone and no complete one is left",
                     trial, checkpoint.path)  # fmt: skip
        return None
    rows = _result_rows(filesystem, trial_path)
    manager = _CheckpointManager(trial.run_metadata.checkpoint_manager.checkpoint_config)
    for path, iteration in complete:  # Tune's own retention drops all but the newest ones
        manager.register_checkpoint(
            _TrainingResult(
                checkpoint=tune.Checkpoint(path, filesystem),
                metrics=rows.get(iteration, {"training_iteration": iteration}),
            )
        )
    trial.run_metadata.checkpoint_manager = manager
    trial.run_metadata.invalidate_cache()
    trial.invalidate_json_state()
    newest = complete[-1][0]
    storage.current_checkpoint_index = int(newest.rsplit("_", 1)[1])
    logger.warning(
        "trial %s: its registered checkpoint %s is gone (the driver was killed before Tune "
        "recorded newer ones); resuming from the newest complete one, %s",
        trial, checkpoint.path, newest,
    )  # fmt: skip
    return newest


class RecoverLostCheckpoints(tune.Callback):
    """Run :func:`recover_lost_checkpoint` on each trial once, before it starts."""

    def __init__(self) -> None:
        self._checked: set[str] = set()

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        for trial in trials:
            if trial.trial_id not in self._checked:
                self._checked.add(trial.trial_id)
                recover_lost_checkpoint(trial)


def latest_complete_checkpoint(trial_dir: str | Path) -> Path | None:
    """The newest ``checkpoint_*`` directory of a trial that carries the marker."""
    complete = sorted(
        path for path in Path(trial_dir).glob("checkpoint_*") if (path / COMPLETE_MARKER).is_file()
    )
    return complete[-1] if complete else None
