"""A user's own env (tests/user_project/setpoint_env.py, outside the package) through
``make_config``: every way to name it, defaults from its spaces, the labels each preset
needs, one-line errors, and a few real training iterations."""

import importlib
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from ray.tune import register_env

import rllib_dynamite
from rllib_dynamite import PRESETS, ConfigError, make_config
from rllib_dynamite.config import ENV_DEFAULTS, resolve_settings
from rllib_dynamite.envs import env_defaults

USER_PROJECT = Path(__file__).parent / "user_project"
SETPOINT = "my_project/SetPoint-v0"
TINY = dict(num_env_runners=0, num_envs_per_env_runner=2, seed=0)
LABEL_FREE_PRESETS = ("rl2", "markov_ppo")


@pytest.fixture(scope="module")
def user_env():
    """The user's module, imported from its own directory (registers SETPOINT)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(USER_PROJECT))
        yield importlib.import_module("setpoint_env")


@pytest.mark.parametrize(
    "env, name",
    [
        (SETPOINT, SETPOINT),
        ("setpoint_env:make_setpoint", "setpoint_env:make_setpoint"),
        ("setpoint_env:my_project/SetPoint-v0", "setpoint_env:my_project/SetPoint-v0"),
        ("attr:make_setpoint", "setpoint_env:make_setpoint"),
        ("attr:Corridor", "setpoint_env:Corridor"),
        ("my_project/TuneOnly-v0", "my_project/TuneOnly-v0"),
    ],
    ids=["gymnasium-id", "import-string", "module:id", "factory", "class", "tune-id"],
)
def test_every_form_of_a_user_env_gives_a_config(user_env, env, name):
    register_env("my_project/TuneOnly-v0", lambda env_config: user_env.make_setpoint(**env_config))
    if env.startswith("attr:"):
        env = getattr(user_env, env[5:])
    config = make_config(env, "dynamite", env_config={"H": 12}, **TINY)
    config.validate()
    assert config.env == name and config.env_config == {"H": 12}
    assert config.train_batch_size_per_learner == 2 * 12
    assert config.rl_module_spec.model_config["max_seq_len"] == 12 + 1


def test_an_unknown_envs_defaults_come_from_its_spaces(user_env):
    box = resolve_settings(SETPOINT)  # Box(1) observation and action, H = 20
    assert (box.state_embed_dim, box.action_embed_dim) == (8, 8)
    assert box.reward_loss == "mse" and box.reward_decoder_grid == []
    assert (box.vae_subsample_beliefs, box.vae_subsample_transitions) == (0, 0)
    long = resolve_settings(SETPOINT, env_config={"H": 200})
    assert (long.vae_subsample_beliefs, long.vae_subsample_transitions) == (50, 50)
    discrete = resolve_settings(user_env.Corridor)  # Discrete(5) observation, Discrete(3) action
    assert (discrete.state_embed_dim, discrete.action_embed_dim) == (20, 12)
    # A built-in env is an entry of the table, not of the spaces.
    grid = resolve_settings("rllib_dynamite/GridNavi-v0")
    table = ENV_DEFAULTS["rllib_dynamite/GridNavi-v0"]
    assert grid.action_embed_dim == table["action_embed_dim"] == 0
    assert grid.reward_loss == table["reward_loss"] == "bce"


def test_a_registered_ids_gymnasium_kwargs_are_its_defaults(user_env):
    gym.register(
        id="my_project/SlowSetPoint-v0",
        entry_point=user_env.make_setpoint,
        kwargs={"p": 0.05, "H": 30},
    )
    assert env_defaults("my_project/SlowSetPoint-v0")["p"] == 0.05
    config = make_config("my_project/SlowSetPoint-v0", "dynamite", **TINY)
    assert config.train_batch_size_per_learner == 2 * 30
    assert config.dynamite_settings.termination_pos_weight == pytest.approx(0.95 / 0.05)
    assert env_defaults("rllib_dynamite/PaperGridNavi-v0")["num_goals"] == 2


def test_a_name_make_config_registered_still_resolves_to_what_it_names(user_env):
    """make_config registers each env's name with Ray Tune; that registration must not
    stand in for the env: the signature stays checked, a re-registered id is rebuilt."""
    from ray.tune.registry import ENV_CREATOR, _global_registry

    make_config("setpoint_env:make_setpoint", "dynamite", **TINY)
    with pytest.raises(ConfigError, match="env_config: unknown argument 'wind'"):
        make_config("setpoint_env:make_setpoint", env_config={"wind": 1})
    assert env_defaults("setpoint_env:make_setpoint")["H"] == 20
    for H in (10, 14):
        gym.register(id="my_project/Changing-v0", entry_point=user_env.make_setpoint,
                     kwargs={"H": H})  # fmt: skip
        assert make_config("my_project/Changing-v0", **TINY).train_batch_size_per_learner == 2 * H
    creator = _global_registry.get(ENV_CREATOR, "my_project/Changing-v0")
    assert creator({}).unwrapped.H == 14


def needs_a_horizon(H):
    return rllib_dynamite.envs.make("rllib_dynamite/GridNavi-v0", H=H)


class MultiDiscreteActions(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.MultiDiscrete([2, 2])
    H = 5

    def reset(self, *, seed=None, options=None):
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), 0.0, False, False, {}


class NoHorizon(MultiDiscreteActions):
    action_space = gym.spaces.Discrete(2)
    H = None


@pytest.mark.parametrize(
    "env, overrides, message",
    [
        ("SetPoint", {}, "unknown env 'SetPoint' (did you mean 'my_project/SetPoint-v0'?)"),
        ("no_such_module:Env", {}, "cannot import 'no_such_module'"),
        ("setpoint_env:Nope", {}, "setpoint_env has no attribute 'Nope'"),
        ("setpoint_env:DRIFT", {}, "is a float, not a class or factory"),
        (SETPOINT, {"env_config": {"wind": 1}}, "env_config: unknown argument 'wind'"),
        (SETPOINT, {"env_config": {"p": 2.0}}, "p must be a number in [0, 1]"),
        (needs_a_horizon, {}, "needs argument(s) ['H']: give them in env_config"),
        (MultiDiscreteActions, {}, "action space must be a Box or Discrete"),
        (NoHorizon, {}, "has no horizon: give it an 'H' argument"),
    ],
    ids=[
        "unknown-id",
        "module",
        "attribute",
        "not-callable",
        "argument",
        "value",
        "required-argument",
        "space",
        "horizon",
    ],  # fmt: skip
)
def test_a_bad_env_fails_with_one_line(user_env, env, overrides, message):
    with pytest.raises(ConfigError) as raised:
        make_config(env, "dynamite", **overrides)
    assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("preset", PRESETS)
def test_an_env_without_labels_is_refused_for_every_preset_that_needs_them(user_env, preset):
    if preset in LABEL_FREE_PRESETS:
        make_config(user_env.UnlabelledSetPoint, preset).validate()
        return
    with pytest.raises(ConfigError) as raised:
        make_config(user_env.UnlabelledSetPoint, preset)
    message = str(raised.value)
    assert "\n" not in message and "docs/custom_envs.md" in message
    if preset == "oracle":
        assert "takes no 'oracle' argument" in message
    else:
        assert "its step info lacks ['session_id']" in message
        assert f"presets that need none: {list(LABEL_FREE_PRESETS)}" in message


def _train(config, iterations):
    algo = config.build_algo()
    try:
        return [algo.train() for _ in range(iterations)][-1]
    finally:
        algo.stop()


def test_make_config_trains_a_user_env_and_its_labels_reach_the_learner(
    ray_local, user_env, tmp_path
):
    config = make_config(SETPOINT, "dynamite", env_config={"trace_dir": str(tmp_path)}, **TINY)
    result = _train(config, iterations=2)
    node_id = ray_local.get_runtime_context().get_node_id()
    # num_env_runners=0: the envs step in this process, on this node.
    assert result["env_runners"]["node_ids"] == node_id
    assert result["env_runners"]["num_env_steps_sampled_lifetime"] == 2 * 2 * 20
    traces = [path.name.split("-")[0] for path in tmp_path.iterdir()]
    assert traces and set(traces) == {node_id}
    learner = result["learners"]["default_policy"]
    # p = 0.2 over 20 steps: about 1 + 19 * 0.2 sessions per episode.
    assert 2.0 < learner["sessions_per_episode"] < 8.0
    assert np.isfinite(learner["vae_termination_loss"])


@pytest.mark.parametrize(
    "env, preset",
    [
        ("UnlabelledSetPoint", "rl2"),
        ("UnlabelledSetPoint", "markov_ppo"),
        ("make_setpoint", "oracle"),
        ("Corridor", "dynamite"),
    ],
)
def test_presets_train_an_env_without_labels_or_with_discrete_observations(
    ray_local, user_env, env, preset
):
    config = make_config(getattr(user_env, env), preset, **TINY)
    assert config.env_config == ({"oracle": True} if preset == "oracle" else {})
    result = _train(config, iterations=1)
    assert result["env_runners"]["num_env_steps_sampled_lifetime"] > 0
    if preset == "dynamite":
        assert result["learners"]["default_policy"]["sessions_per_episode"] > 1.0


def test_the_package_exports_make_config_lazily():
    code = ("import sys, rllib_dynamite; assert 'rllib_dynamite.config' not in sys.modules; "
            "assert 'torch' not in sys.modules; from rllib_dynamite import make_config; "
            "assert make_config.__module__ == 'rllib_dynamite.config'")  # fmt: skip
    import subprocess

    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
