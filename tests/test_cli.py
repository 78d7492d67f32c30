"""``rllib-dynamite`` end to end on tiny settings: train, evaluate, plot, tune, errors."""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rllib_dynamite.cli import main

GRID = "rllib_dynamite/GridNavi-v0"
ROOT = Path(__file__).parent.parent
SMOKE = ROOT / "tune_configs" / "examples" / "smoke.yaml"
TINY = ["--set", "num_env_runners=0", "--set", "num_envs_per_env_runner=2"]
VAE_TAGS = ("reconstruction_loss", "kl_loss", "consistency_loss", "termination_loss")


def _scalar_tags(trial_dir: Path) -> list[str]:
    accumulator = EventAccumulator(str(trial_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    return accumulator.Tags()["scalars"]


def _trial_dirs(experiment_dir: Path) -> list[Path]:
    return sorted(p.parent for p in experiment_dir.glob("*/params.json"))


@pytest.fixture(scope="module")
def train_run(ray_local, tmp_path_factory):
    """One ``train`` run of 2 iterations (2 envs × 60 steps each), evaluated and
    checkpointed every one, keeping one checkpoint: (output directory, exit status, what
    it printed)."""
    output = tmp_path_factory.mktemp("train") / "run"
    argv = ["train", "--env", GRID, "--stop-timesteps", "240", "--checkpoint-frequency", "1",
            "--keep-checkpoints", "1", "--eval-interval", "1", "--eval-episodes", "2",
            "--output", str(output), *TINY]  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(argv)
    return output, status, printed.getvalue()


def test_train_writes_checkpoint_and_event_files(train_run):
    output, status, printed = train_run
    assert status == 0
    (trial,) = _trial_dirs(output)
    assert f"checkpoint: {trial}/checkpoint_000001" in printed
    assert f"tensorboard --logdir {output}" in printed
    assert "iter    2 | env steps         240/240" in printed
    # The final greedy evaluation beside scripted references on the same episodes.
    (line,) = [x for x in printed.splitlines() if x.startswith("greedy evaluation, the same 2")]
    assert "dynamite" in line and "scripted random" in line and "scripted oracle" in line
    assert "belief goal search" in line  # what a belief can reach (21 goals: no exact one)
    assert [p.name for p in trial.glob("checkpoint_*")] == ["checkpoint_000001"]
    progress = (trial / "progress.csv").read_text().splitlines()
    assert len(progress) == 1 + 2  # header + 2 iterations
    tags = _scalar_tags(trial)
    for term in VAE_TAGS:
        assert f"ray/tune/learners/default_policy/vae_{term}" in tags
    # steps_to_adapt_mean is NaN (so not logged) while no switch is adapted.
    for name in ("episode_return_mean", "adapted_fraction", "termination_recall"):
        assert f"ray/tune/evaluation/{name}" in tags
    assert "ray/tune/env_steps_per_second" in tags
    images = EventAccumulator(str(trial / "belief"), size_guidance={"images": 0})
    images.Reload()
    assert [event.step for event in images.Images("evaluation/belief")] == [1, 2]


def test_evaluate_reads_the_checkpoint_and_writes_json(train_run, tmp_path, capsys):
    output, *_ = train_run
    json_path, figure_path = tmp_path / "eval.json", tmp_path / "belief.png"
    argv = ["evaluate", str(output), "--episodes", "3", "--json", str(json_path),
            "--figure", str(figure_path)]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(json_path.read_text())
    assert report["env"] == GRID and len(report["episodes"]) == 3
    for key in ("episode_return_mean", "session_return_mean", "steps_to_adapt_mean",
                "termination_precision", "termination_recall", "belief_readout_r2"):  # fmt: skip
        assert key in report["metrics"]
    assert figure_path.stat().st_size > 10_000
    assert "episode_return_mean" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["curves", "ablation", "p-sweep"])
def test_plot_writes_png_and_markdown_table(train_run, tmp_path, capsys, kind):
    output, *_ = train_run
    figure = tmp_path / f"{kind}.png"
    assert main(["plot", str(output), "--out", str(figure), "--kind", kind]) == 0
    assert figure.stat().st_size > 10_000
    table = figure.with_suffix(".md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| GridNavi-v0 | dynamite |"))
    seeds, final, source, steps = (row.strip("| ").split(" | ")[i] for i in (2, 3, 6, 7))
    assert (seeds, source, steps) == ("1", "evaluation", "240")
    assert -6.0 <= float(final) <= 60.0  # H = 60 steps of -0.1 to 1
    assert table in capsys.readouterr().out


def test_plot_reads_evaluation_metrics_from_result_json(train_run, tmp_path, capsys):
    output, *_ = train_run
    figure = tmp_path / "evaluation.png"
    argv = ["plot", str(output), "--out", str(figure), "--metric", "evaluation/steps_to_adapt_mean"]
    assert main(argv) == 0
    assert "final evaluation/steps_to_adapt_mean" in figure.with_suffix(".md").read_text()


def test_tune_smoke_yaml_logs_the_dynamite_losses(ray_local, tmp_path, capsys):
    assert main(["tune", str(SMOKE), "--output", str(tmp_path)]) == 0
    trials = _trial_dirs(tmp_path / "smoke")
    assert [t.name.split("_")[1] for t in trials] == ["seed=0", "seed=1"]
    for trial in trials:
        tags = _scalar_tags(trial)
        for term in VAE_TAGS:
            assert f"ray/tune/learners/default_policy/vae_{term}" in tags
    out = capsys.readouterr().out
    assert "iter    1" in out and "tensorboard --logdir" in out
    # A finished sweep resumes to the same trials without training again.
    assert main(["tune", str(SMOKE), "--output", str(tmp_path),
                 "--resume"]) == 0  # fmt: skip
    assert _trial_dirs(tmp_path / "smoke") == trials


@pytest.mark.parametrize(
    "text, message",
    [
        ("env: rllib_dynamite/GridNavi-v0\nsetings: {}\n", "did you mean 'settings'?"),
        ("env: rllib_dynamite/GridNavi-v0\nsettings: {gamma: high}\n", "'gamma' must be"),
        (None, "no such experiment file"),
    ],
    ids=["unknown-key", "wrong-type", "missing-file"],
)
def test_bad_files_fail_with_one_line_before_ray_starts(
    tmp_path, monkeypatch, capsys, text, message
):
    import ray

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray must not start for an invalid file")

    monkeypatch.setattr(ray, "init", no_ray)
    path = tmp_path / "experiment.yaml"
    if text is not None:
        path.write_text(text)
    assert main(["tune", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


@pytest.mark.parametrize("old", ["tune_configs/gridnavi_long.yaml", "gridnavi_long.yaml"])
def test_tune_names_the_new_path_of_a_renamed_file_before_ray_starts(old, monkeypatch, capsys):
    import ray

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray must not start for a renamed file")

    monkeypatch.setattr(ray, "init", no_ray)
    monkeypatch.chdir(ROOT)
    assert main(["tune", old, "--dry-run"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: no such experiment file: {old}; it is now tune_configs/local/gridnavi.yaml "
        "(docs/configs.md)"
    ]
    assert main(["tune", "tune_configs/local/gridnavi.yaml", "--dry-run"]) == 0
    assert "results in results/gridnavi_long" in capsys.readouterr().out


def test_console_script_error_has_no_traceback(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "rllib_dynamite", "tune", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    expected = f"error: no such experiment file: {tmp_path}/nope.yaml"
    assert run.stderr.strip().splitlines()[-1] == expected


def test_output_into_a_closed_pipe_ends_quietly():
    """`rllib-dynamite plot ... | head`: once the reader has left, the command stops
    without a traceback, with the status of a process killed by SIGPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line
    try:
        run = subprocess.run(
            [sys.executable, "-m", "rllib_dynamite", "envs"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert run.returncode == 141
    assert run.stderr == ""


NO_SUCH_ENV = "rllib_dynamite/GridNav-v0"
# Runs the CLI, then prints its exit status and which of Ray and torch it imported.
_CLI_THEN_HEAVY_MODULES = """
import sys
from rllib_dynamite.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
print(status, sorted({"ray", "torch"} & {name.split(".")[0] for name in sys.modules}))
"""


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--env", GRID, "--preset", "dynamo"], "unknown preset 'dynamo'"),
        (["train", "--env", NO_SUCH_ENV], f"unknown env {NO_SUCH_ENV!r}"),
        (["train", "--env", GRID, "--set", "lrr=1"], "unknown setting 'lrr'"),
        (["tune", "key.yaml"], "unknown key 'stop_timestep'"),
        (["tune", "preset.yaml"], "unknown preset 'varibda'"),
        (["tune", "setting.yaml"], "unknown setting 'kl_wieght'"),
        (["train", "--config", "env.yaml"], f"unknown env {NO_SUCH_ENV!r}"),
        (["--help"], None),
        (["train", "--help"], None),
    ],
    ids=["preset", "env", "setting", "yaml-key", "yaml-preset", "yaml-setting", "yaml-env",
         "help", "train-help"],
)  # fmt: skip
def test_a_bad_name_or_help_loads_neither_ray_nor_torch(tmp_path, argv, message):
    """Names are checked before Ray and torch load (seconds): a typo fails at once."""
    grid = f"env: {GRID}\n"
    files = {
        "key.yaml": grid + "stop_timestep: 100\n",
        "preset.yaml": grid + "presets: [dynamite, varibda]\n",
        "setting.yaml": grid + "settings: {lr: {grid_search: [0.001]}, kl_wieght: 0.1}\n",
        "env.yaml": f"env: {NO_SUCH_ENV}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    run = subprocess.run(
        [sys.executable, "-c", _CLI_THEN_HEAVY_MODULES, *argv],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    status, heavy = run.stdout.strip().splitlines()[-1].split(" ", 1)
    assert heavy == "[]", run.stdout + run.stderr
    if message is None:
        assert status == "0" and "usage: rllib-dynamite" in run.stdout
    else:
        assert status == "2" and message in run.stderr, run.stderr


def test_train_rejects_a_sweep(capsys):
    assert main(["train", "--config", str(SMOKE)]) == 2
    assert "use `rllib-dynamite tune FILE`" in capsys.readouterr().err


def test_envs_lists_every_env_with_defaults(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for name in ("GridNavi-v0", "Reacher-v0", "HalfCheetahVel-v0", "ScratchItch-v0"):
        assert f"rllib_dynamite/{name}" in out
    assert "p=0.07" in out


def test_a_bad_flag_value_fails_with_one_line_before_ray_starts(monkeypatch, capsys):
    import ray

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray must not start for a bad flag")

    monkeypatch.setattr(ray, "init", no_ray)
    for flag, value, message in [
        ("--stop-timesteps", "-5", "error: stop_timesteps must be an integer > 0, got -5"),
        ("--keep-checkpoints", "0", "error: keep_checkpoints must be an integer > 0, got 0"),
    ]:
        assert main(["train", "--env", GRID, flag, value]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [message]


def test_train_takes_a_user_env_as_module_attr_from_the_current_directory(ray_local, tmp_path):
    """`rllib-dynamite train --env setpoint_env:make_setpoint`, run where the module is,
    as a user would; then `evaluate` reads the run's checkpoint in this process."""
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "setpoint_env.py").write_text(
        (ROOT / "tests" / "user_project" / "setpoint_env.py").read_text()
    )
    argv = ["train", "--env", "setpoint_env:make_setpoint", "--stop-timesteps", "40",
            "--eval-interval", "0", "--output", "run", *TINY,
            "--set", f"env_config.trace_dir={project}"]  # fmt: skip
    run = subprocess.run(
        [str(Path(sys.executable).parent / "rllib-dynamite"), *argv],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    (trial,) = _trial_dirs(project / "run")
    (result,) = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
    # The run's own Ray has one node; the envs' traces (a whole episode, not the one step
    # of make_config's check) say they stepped there.
    (node_id,) = result["env_runners"]["node_ids"].split()
    assert result["env_runners"]["num_env_steps_sampled_lifetime"] == 40
    traces = [(path.name.split("-")[0], int(path.read_text().split()[0]))
              for path in project.iterdir() if path.is_file() and path.suffix != ".py"]  # fmt: skip
    assert {node for node, steps in traces if steps >= 20} == {node_id}, traces
    assert result["learners"]["default_policy"]["sessions_per_episode"] > 1.0
    sys.path.insert(0, str(project))
    try:
        assert main(["evaluate", str(project / "run"), "--episodes", "2"]) == 0
    finally:
        sys.path.remove(str(project))


def test_tune_runs_a_subset_of_seeds_into_its_own_directory(tmp_path, capsys):
    yaml_file = ROOT / "tune_configs" / "local" / "paper_gridnavi.yaml"
    assert (
        main(["tune", str(yaml_file), "--seeds", "3,4", "--dry-run", "--output", str(tmp_path)])
        == 0
    )
    out = capsys.readouterr().out
    assert "10 trial(s)" in out and "seeds [3, 4]" in out
    assert str(tmp_path / "paper_gridnavi-seeds-3-4") in out
    assert main(["tune", str(yaml_file), "--seeds", "9", "--dry-run"]) == 2
    assert "--seeds [9] not among the file's seeds" in capsys.readouterr().err


def test_tune_runs_a_subset_of_presets_into_its_own_directory(tmp_path, capsys):
    yaml_file = ROOT / "tune_configs" / "local" / "paper_gridnavi.yaml"
    args = ["tune", str(yaml_file), "--presets", "rl2,oracle", "--seeds", "3,4", "--dry-run"]
    assert main([*args, "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 trial(s)" in out and "(rl2, oracle; seeds [3, 4])" in out
    assert str(tmp_path / "paper_gridnavi-rl2-oracle-seeds-3-4") in out
    assert main(["tune", str(yaml_file), "--presets", "no_masking", "--dry-run"]) == 2
    assert "--presets ['no_masking'] not among the file's presets" in capsys.readouterr().err


def test_tune_runs_a_subset_of_a_grid_into_its_own_directory(tmp_path, capsys):
    yaml_file = ROOT / "tune_configs" / "studies" / "halfcheetah_vel_p_sweep.yaml"
    args = ["tune", str(yaml_file), "--seeds", "0", "--grid", "p=1.0", "--dry-run"]
    assert main([*args, "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 trial(s)" in out  # dynamite and varibad at p = 1 only
    assert str(tmp_path / "halfcheetah_vel_p_sweep_local-seeds-0-p-1.0") in out
    two = ["tune", str(yaml_file), "--grid", "env_config.p=0.0,0.2", "--dry-run"]
    assert main(two) == 0
    assert "12 trial(s)" in capsys.readouterr().out  # 2 points x 2 presets x 3 seeds
    assert main(["tune", str(yaml_file), "--grid", "p=0.5", "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert "--grid p=[0.5] not among the grid's values [0.0, 0.005, 0.05, 0.2, 1.0]" in error
    assert main(["tune", str(yaml_file), "--grid", "lr=0.1", "--dry-run"]) == 2
    assert "--grid lr: the file grids over ['env_config.p']" in capsys.readouterr().err


def test_tune_restricts_several_grids_at_once(tmp_path, capsys):
    yaml_file = ROOT / "tune_configs" / "studies" / "gridnavi_consistency_dose.yaml"
    args = ["tune", str(yaml_file), "--grid", "consistency_weight=0.05,0.005"]
    args += ["--grid", "consistency_reduction=sum", "--dry-run", "--output", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "10 trial(s)" in out  # 2 weights x 1 form x 5 seeds, not the last grid alone
    name = "gridnavi_consistency_dose-consistency_weight-0.05-0.005-consistency_reduction-sum"
    assert str(tmp_path / name) in out
