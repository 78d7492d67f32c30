"""Experiment YAML schema, grids, trial names and the progress line (no Ray)."""

import dataclasses
import io
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from rllib_dynamite.config import ConfigError
from rllib_dynamite.experiments import experiment_from_dict, load_experiment, validate_experiment
from rllib_dynamite.experiments.launch import trial_name
from rllib_dynamite.experiments.progress import ProgressReporter
from rllib_dynamite.experiments.renamed import RENAMED
from rllib_dynamite.experiments.schema import CODE, RESOURCES, TOP_LEVEL

ROOT = Path(__file__).parent.parent
CONFIGS = ROOT / "tune_configs"
TUNE_CONFIGS = sorted(CONFIGS.rglob("*.yaml"))
FOLDERS = ("paper", "local", "calibration", "studies", "examples")
GRID = "rllib_dynamite/GridNavi-v0"


def _relative(path: Path) -> str:
    return path.relative_to(CONFIGS).as_posix()


@pytest.mark.parametrize("path", TUNE_CONFIGS, ids=_relative)
def test_every_tune_config_validates(path):
    experiment = load_experiment(path)
    assert experiment.num_trials >= 2


def test_tune_configs_are_sorted_by_purpose_into_results_of_their_own():
    assert {path.parent.name for path in TUNE_CONFIGS} <= set(FOLDERS)
    names = [load_experiment(path).name for path in TUNE_CONFIGS]
    assert len(set(names)) == len(names)  # no two files write to one results directory


def test_local_holds_one_file_per_env():
    envs = [load_experiment(path).env for path in sorted((CONFIGS / "local").glob("*.yaml"))]
    assert sorted(envs) == sorted(
        f"rllib_dynamite/{name}-v0"
        for name in ("GridNavi", "PaperGridNavi", "HalfCheetahVel", "Reacher", "ScratchItch")
    )


def test_paper_experiments_cover_every_method_and_seed():
    methods = {"dynamite", "varibad", "rl2", "oracle", "no_consistency", "no_conditioning",
               "no_masking"}  # fmt: skip
    for name in ("gridnavi", "reacher", "halfcheetah_vel", "scratch_itch"):
        experiment = load_experiment(CONFIGS / "paper" / f"{name}.yaml")
        assert set(experiment.presets) == methods
        assert len(experiment.seeds) == (3 if name == "scratch_itch" else 5)
    sweep = load_experiment(CONFIGS / "paper" / "halfcheetah_vel_p_sweep.yaml")
    assert sweep.num_trials == 2 * 5 * 6


def test_every_renamed_file_has_moved_to_an_existing_file():
    for old, new in RENAMED.items():
        assert not (CONFIGS / old).exists(), old
        assert (CONFIGS / new).is_file(), new


@pytest.mark.parametrize(
    "given, cwd, new",
    [
        ("tune_configs/gridnavi_long.yaml", ".", "tune_configs/local/gridnavi.yaml"),
        ("gridnavi_long.yaml", ".", "tune_configs/local/gridnavi.yaml"),
        ("smoke.yaml", "tune_configs", "examples/smoke.yaml"),
    ],
)
def test_an_old_file_name_names_the_new_path(given, cwd, new, monkeypatch):
    monkeypatch.chdir(ROOT / cwd)
    with pytest.raises(FileNotFoundError) as error:
        load_experiment(given)
    assert str(error.value) == (
        f"no such experiment file: {given}; it is now {new} (docs/configs.md)"
    )
    assert load_experiment(new).name  # the path it names loads from there


def test_other_missing_files_are_not_called_renamed(tmp_path):
    for path in (tmp_path / "gridnavi_long.yaml", Path("tune_configs/no_such_file.yaml")):
        with pytest.raises(FileNotFoundError) as error:
            load_experiment(path)
        assert str(error.value) == f"no such experiment file: {path}"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"env": GRID, "setings": {}}, "unknown key 'setings' (did you mean 'settings'?)"),
        ({"env": GRID, "resources": {"num_cpu": 2}}, "did you mean 'resources.num_cpus'"),
        ({"env": GRID, "settings": {"lrr": 0.1}}, "unknown setting 'lrr' (did you mean 'lr'?)"),
        ({"env": GRID, "stop_timesteps": "2e7"}, "stop_timesteps must be an integer > 0"),
        ({"env": GRID, "seeds": 3}, "seeds must be a non-empty list of integers"),
        ({"env": GRID, "settings": {"lr": "fast"}}, "setting 'lr' must be"),
        ({"env": "GridNavi"}, "unknown env 'GridNavi'"),
        ({"env": GRID, "presets": ["dynamite", "varibat"]}, "did you mean 'varibad'"),
        ({"env": GRID, "preset": "rl2", "presets": ["rl2"]}, "either 'preset' or 'presets'"),
        ({"env": GRID, "settings": {"seed": 1}}, "settings.seed"),
        ({"env": GRID, "settings": {"lr": {"grid_search": []}}}, "settings.lr: a grid is"),
        ({"env": GRID, "settings": {"env_config": {"p": {"grid_search": [0.1, 3]}}}}, "p must"),
        ({"env": GRID, "settings": {"env_config": {"q": 0.1}}}, "unknown argument 'q'"),
        ({"settings": {}}, "missing key 'env'"),
        ({"env": "no_such_module:Env"}, "env: env 'no_such_module:Env': cannot import"),
        ({"env": GRID, "keep_checkpoints": 0}, "keep_checkpoints must be an integer > 0"),
        ({"env": GRID, "code": {"pymodules": ["a.py"]}}, "did you mean 'code.py_modules'"),
        ({"env": GRID, "code": {"py_modules": ["nope.py"]}}, "code.py_modules: no such file"),
        ({"env": GRID, "code": {"working_dir": "nope"}}, "code.working_dir: no such directory"),
    ],
)
def test_bad_experiments_name_the_key(raw, message):
    with pytest.raises(ConfigError) as error:
        experiment_from_dict(raw)
    assert message in str(error.value)


def test_a_flag_value_is_checked_like_the_files():
    experiment = experiment_from_dict({"env": GRID})
    for key, value in (("stop_timesteps", -5), ("stop_timesteps", 0), ("evaluation_episodes", 0)):
        with pytest.raises(ConfigError, match=f"^{key} must be an integer > 0, got {value}$"):
            validate_experiment(dataclasses.replace(experiment, **{key: value}))


def test_code_paths_are_relative_to_the_file_shipped_and_importable(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    project = tmp_path / "project"
    project.mkdir()
    (project / "experiment_tiny_env.py").write_text(
        "from rllib_dynamite.envs.gridnavi import GridNavi as Tiny\n"
    )
    path = tmp_path / "configs" / "tiny.yaml"
    path.parent.mkdir()
    path.write_text(
        "env: experiment_tiny_env:Tiny\n"
        "code: {py_modules: [../project/experiment_tiny_env.py], working_dir: ../project}\n"
    )
    experiment = load_experiment(path)
    assert experiment.code.runtime_env() == {
        "py_modules": [str(project / "experiment_tiny_env.py")],
        "working_dir": str(project),
    }
    assert str(project) in sys.path  # the driver imports the env as the workers will
    assert experiment_from_dict({"env": GRID}).code.runtime_env() is None


def test_grid_expansion_and_param_space():
    experiment = experiment_from_dict(
        {
            "env": GRID,
            "presets": ["dynamite", "varibad"],
            "seeds": [0, 1, 2],
            "settings": {
                "lr": {"grid_search": [1e-3, 3e-4]},
                "env_config": {"p": {"grid_search": [0.0, 0.5]}},
            },
        }
    )
    assert experiment.num_trials == 2 * 3 * 2 * 2
    points = list(experiment.grid_points())
    assert {(p["lr"], p["env_config"]["p"]) for p in points} == {
        (1e-3, 0.0), (1e-3, 0.5), (3e-4, 0.0), (3e-4, 0.5)
    }  # fmt: skip
    space = experiment.param_space()
    assert space["preset"] == {"grid_search": ["dynamite", "varibad"]}
    assert space["settings"]["seed"] == {"grid_search": [0, 1, 2]}
    assert space["settings"]["lr"] == {"grid_search": [1e-3, 3e-4]}


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such experiment file"):
        load_experiment(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("env: [\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML \(line 2\)"):
        load_experiment(broken)


def test_trial_names_carry_preset_seed_and_grid_values():
    trial = SimpleNamespace(
        config={"preset": "varibad", "settings": {"seed": 3, "env_config": {"p": 0.2}}},
        evaluated_params={"preset": "varibad", "settings/seed": 3, "settings/env_config/p": 0.2},
        trial_id="ab12c_00007",
    )
    assert trial_name(trial) == "varibad_seed=3_p=0.2_ab12c_00007"


def test_progress_line_shows_steps_return_and_time_left():
    stream = io.StringIO()
    clock = iter([100.0, 160.0])
    reporter = ProgressReporter(stop_timesteps=4000, stream=stream, clock=lambda: next(clock))
    reporter.on_trial_start(0, [], "trial_a")
    result = {
        "training_iteration": 3,
        "num_env_steps_sampled_lifetime": 1000,
        "env_runners": {"episode_return_mean": -1.25, "num_env_steps_sampled": 1000},
    }
    reporter.on_trial_result(3, [], "trial_a", result)
    line = stream.getvalue()
    assert "iter    3" in line and "1,000/4,000" in line and "-1.250" in line
    assert "0:01:00 elapsed" in line and "~0:03:00 left" in line


def test_docs_describe_every_key_and_file():
    docs = (ROOT / "docs" / "configs.md").read_text()
    for key in [*TOP_LEVEL, *RESOURCES, *CODE]:
        assert f"| `{key}` |" in docs, key
    for path in TUNE_CONFIGS:
        assert f"`{_relative(path)}`" in docs, _relative(path)
