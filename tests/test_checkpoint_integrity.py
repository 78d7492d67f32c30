"""A kill cannot make a partial checkpoint pass for the newest one, nor leave a run that
cannot resume (rllib_dynamite/checkpoint_integrity.py)."""

import os
import re
import signal
import subprocess
import sys
import time

import yaml
from ray import tune

from rllib_dynamite.checkpoint_integrity import (
    COMPLETE_MARKER,
    MarkCompleteCheckpoints,
    latest_complete_checkpoint,
)

GRIDNAVI = "rllib_dynamite/GridNavi-v0"


def test_only_checkpoints_tune_registered_count_as_complete(tmp_path):
    """A kill during a checkpoint write leaves a newer, partial directory: skipped."""
    import pyarrow.fs

    trial_dir = tmp_path / "trial"
    for name in ("checkpoint_000000", "checkpoint_000001", "checkpoint_000002"):
        (trial_dir / name).mkdir(parents=True)
    assert latest_complete_checkpoint(trial_dir) is None
    marker = MarkCompleteCheckpoints()
    trial = type("Trial", (), {"last_result": {"training_iteration": 2}})()
    for name in ("checkpoint_000000", "checkpoint_000001"):
        checkpoint = tune.Checkpoint(str(trial_dir / name), pyarrow.fs.LocalFileSystem())
        marker.on_checkpoint(iteration=0, trials=[trial], trial=trial, checkpoint=checkpoint)
    assert latest_complete_checkpoint(trial_dir) == trial_dir / "checkpoint_000001"


def _registered_checkpoints(experiment_state: bytes) -> set[str]:
    """Checkpoint directory names in Tune's experiment state (inside hex pickles)."""
    names = set()
    for blob in re.findall(rb"[0-9a-f]{64,}", experiment_state):
        names.update(
            m.decode() for m in re.findall(rb"checkpoint_\d{6}", bytes.fromhex(blob.decode()))
        )
    return names


def _wait_for(condition, process, timeout, what):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)
    return found


def test_resume_after_a_kill_that_outran_tunes_experiment_state(tmp_path):
    """Tune deletes a checkpoint beyond ``keep_checkpoints`` at once, but records the
    newer ones in its experiment state only at its next snapshot. A kill in between
    leaves a state whose registered checkpoint is gone: the resume restores from the
    newest complete one instead of failing. The state is put back to an early snapshot
    here, so the race is certain rather than left to the machine's load."""
    iteration_steps, iterations = 120, 60
    experiment = tmp_path / "race.yaml"
    experiment.write_text(
        yaml.safe_dump(
            dict(
                name="race",
                env=GRIDNAVI,
                preset="dynamite",
                stop_timesteps=iterations * iteration_steps,
                checkpoint_frequency=1,
                keep_checkpoints=2,
                evaluation_interval=0,
                settings=dict(num_env_runners=0, num_envs_per_env_runner=2),
            )
        )
    )
    output = tmp_path / "results"
    command = [sys.executable, "-m", "rllib_dynamite", "tune", str(experiment), "--output",
               str(output)]  # fmt: skip
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    log_path = tmp_path / "first.log"
    experiment_dir = output / "race"
    with log_path.open("w") as log:
        driver = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
    try:

        def snapshot_with_a_checkpoint():
            states = sorted(experiment_dir.glob("experiment_state-*.json"))
            registered = _registered_checkpoints(states[-1].read_bytes()) if states else set()
            if not registered:
                return None
            saved = {p: p.read_bytes() for p in experiment_dir.iterdir() if p.is_file()}
            return max(registered), saved

        registered, saved = _wait_for(snapshot_with_a_checkpoint, driver, 300, "snapshot")
        (trial_dir,) = [p for p in experiment_dir.iterdir() if p.is_dir()]
        _wait_for(
            lambda: not (trial_dir / registered).exists()
            and latest_complete_checkpoint(trial_dir).name > registered,
            driver, 300, f"deletion of {registered}",
        )  # fmt: skip
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    for path, content in saved.items():  # the state as the kill left it, had Tune lagged
        path.write_bytes(content)
    newest = latest_complete_checkpoint(trial_dir)
    marked = int((newest / COMPLETE_MARKER).read_text().split(":")[1])

    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True,
                             timeout=420)  # fmt: skip
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    printed = [int(line.split(" iter ")[1].split("|")[0]) for line in resumed.stdout.splitlines()
               if " iter " in line]  # fmt: skip
    assert printed[0] >= marked + 1 > int(registered.split("_")[1]) + 2, (registered, printed)
    assert printed[-1] == iterations and "1 trial(s), 0 failed" in resumed.stdout
    assert f"resuming from the newest complete one, {newest}" in resumed.stdout + resumed.stderr
