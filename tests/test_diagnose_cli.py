"""``rllib-dynamite diagnose``: every diagnostic answers --help, refuses bad input with
one ``error:`` line (status 2) before Ray starts, and plays a study's checkpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rllib_dynamite.cli import main
from rllib_dynamite.config import make_config

GRID = "rllib_dynamite/GridNavi-v0"
DIAGNOSTICS = (
    "beliefs",
    "belief-steps",
    "belief-probe",
    "belief-use",
    "belief-fit",
    "seed-streams",
    "velocity",
    "switch-value",
    "bounds",
)


@pytest.mark.parametrize("diagnostic", DIAGNOSTICS)
def test_every_diagnostic_answers_help(diagnostic, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["diagnose", diagnostic, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: rllib-dynamite diagnose {diagnostic}")


def test_diagnose_lists_every_diagnostic(capsys):
    with pytest.raises(SystemExit):
        main(["diagnose", "--help"])
    out = capsys.readouterr().out
    assert all(diagnostic in out for diagnostic in DIAGNOSTICS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["beliefs", "{missing}"], "error: no such results directory: {missing}"),
        (["belief-steps", "{missing}"], "error: no such results directory: {missing}"),
        (["belief-steps", ".", "--presets", ","], "error: --presets needs comma-separated"),
        (["belief-probe", "--set", "vae_lr=3e-"], "error: --set vae_lr: not JSON"),
        (["belief-use", "{missing}"], "error: no such results directory: {missing}"),
        (["belief-fit", "{missing}"], "error: no such checkpoint or directory: {missing}"),
        (["belief-fit", ".", "--every", "0"], "error: --every must be > 0, got 0"),
        (["seed-streams", ".", "--iterations", "2"], "error: --iterations must be at least 3"),
        (["velocity", ".", "--episodes", "0"], "error: --episodes must be > 0, got 0"),
        (["switch-value", "--env", "nope/Nope-v0"], "error: unknown env 'nope/Nope-v0'"),
        (["switch-value", "--env", GRID], f"error: {GRID} is not a two-goal GridNavi"),
        (["switch-value", "--gammas", "0.9,1.0"], "error: --gammas must lie in [0, 1)"),
        (["bounds", "--env", "nope/Nope-v0"], "error: unknown env 'nope/Nope-v0'"),
    ],
)
def test_bad_input_is_one_error_line_before_ray_starts(
    argv, message, tmp_path, monkeypatch, capsys
):
    import ray

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray must not start for bad input")

    monkeypatch.setattr(ray, "init", no_ray)
    missing = str(tmp_path / "missing")
    assert main(["diagnose", *(arg.format(missing=missing) for arg in argv)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message.format(missing=missing))
    assert captured.out == ""


def test_the_diagnose_hook_imports_nothing_heavy():
    """The analysis modules load inside the handlers: importing the hook adds no torch,
    Ray, MuJoCo, matplotlib or pandas to what the package itself imports."""
    code = (
        "import sys, rllib_dynamite\n"
        "before = set(sys.modules)\n"
        "import rllib_dynamite.analysis.cli\n"
        "heavy = ('torch', 'ray', 'mujoco', 'matplotlib', 'pandas')\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in heavy))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


@pytest.fixture
def study(ray_local, tmp_path, write_trial) -> Path:
    """A study of two GridNavi trials in Tune's layout: a ``dynamite`` trial with a
    checkpoint of one training iteration, and an unfinished one without."""
    root = tmp_path / "study"
    trained = write_trial(root / "dynamite_seed=0", preset="dynamite", seed=0, steps=[100],
                          returns=[1.0])  # fmt: skip
    write_trial(root / "varibad_seed=0", preset="varibad", seed=0, steps=[100], returns=[1.0])
    algo = make_config(GRID, "dynamite", num_env_runners=0, num_envs_per_env_runner=2, seed=0)
    algo = algo.build_algo()
    try:
        algo.train()
        algo.save_to_path(trained / "checkpoint_000000")
    finally:
        algo.stop()
    return root


def test_trial_diagnostics_play_each_checkpoint_and_skip_unfinished_trials(study, capsys):
    assert main(["diagnose", "beliefs", str(study), "--episodes", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("trial | first_steps | later_steps | r2_first")
    rows = {line.split(" | ")[0]: line.split(" | ")[1:] for line in lines[1:]}
    assert len(rows["dynamite_seed=0"]) == len(lines[0].split(" | ")) - 1
    assert rows["varibad_seed=0"][0].startswith("skipped: no checkpoint under")
    assert main(["diagnose", "belief-use", str(study), "--episodes", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    cells = dict(zip(lines[0].split(" | "), lines[1].split(" | "), strict=True))
    assert cells["trial"] == "dynamite_seed=0"
    assert all(cells[mode] != "–" for mode in ("own", "blind", "shuffled", "reward_zeroed"))
    assert main(["diagnose", "velocity", str(study), "--episodes", "2"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [
        "trial | return | slope | fastest | return_low | return_mid | return_high"
    ]  # GridNavi trials: no HalfCheetahVel trial to measure
