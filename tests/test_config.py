"""make_config: presets for every env, typed and validated settings."""

import dataclasses
from pathlib import Path

import pytest

import rllib_dynamite  # noqa: F401
from rllib_dynamite.config import (
    PRESETS,
    ConfigError,
    DynamiteConfig,
    DynamiteSettings,
    make_config,
)
from rllib_dynamite.envs import ENV_IDS
from rllib_dynamite.learner import DynamiteLearner

GRID = "rllib_dynamite/GridNavi-v0"


@pytest.mark.parametrize("env", ENV_IDS)
@pytest.mark.parametrize("preset", PRESETS)
def test_every_env_and_preset_gives_a_config(env, preset):
    config = make_config(env, preset)
    config.validate()
    settings = config.dynamite_settings
    H = config.env_config.get("H") or rllib_dynamite.envs.env_defaults(env)["H"]
    if preset in ("oracle", "markov_ppo"):
        assert settings.policy_input == "obs" and not settings.use_vae
        assert config.env_config.get("oracle", False) == (preset == "oracle")
    else:
        assert config.learner_class is DynamiteLearner
        assert config.rl_module_spec.model_config["max_seq_len"] == H + 1
    assert config.batch_mode == "complete_episodes"
    assert config.train_batch_size_per_learner % H == 0


def test_presets_set_the_switches_of_method_md():
    switches = ("masking", "latent_conditioning", "consistency", "termination_head")
    expected = {
        "dynamite": (True, True, True, True),
        "no_consistency": (True, True, False, True),
        "no_conditioning": (True, False, True, True),
        "no_masking": (False, True, True, True),
        "varibad": (False, False, False, False),
    }
    for preset, values in expected.items():
        settings = make_config(GRID, preset).dynamite_settings
        assert tuple(getattr(settings, s) for s in switches) == values, preset


def test_overrides_reach_the_config():
    config = make_config(GRID, "dynamite", lr=1e-4, env_config={"p": 0.2}, kl_weight=0.5)
    assert config.lr == 1e-4
    assert config.env_config["p"] == 0.2
    assert config.dynamite_settings.kl_weight == 0.5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kl_wieght": 0.1}, "unknown setting 'kl_wieght'.*did you mean 'kl_weight'"),
        ({"lr": "fast"}, "setting 'lr' must be float"),
        ({"masking": 1}, "setting 'masking' must be bool"),
        ({"policy_input": "pixels"}, "setting 'policy_input' must be one of"),
        ({"policy_hiddens": [32, "a"]}, "setting 'policy_hiddens'"),
        ({"lr": -1.0}, "setting 'lr' must be > 0"),
        ({"gamma": 1.5}, "setting 'gamma' must be in"),
        ({"env_config": {"q": 0.1}}, "env_config: unknown argument 'q'"),
        ({"belief_warmup_steps": -5}, "setting 'belief_warmup_steps' must be >= 0"),
        ({"belief_reward_scale": float("nan")}, "setting 'belief_reward_scale' must be > 0"),
        ({"belief_reward_clip": float("nan")}, "setting 'belief_reward_clip' must be >= 0"),
    ],
)
def test_bad_settings_raise_one_clear_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config(GRID, "dynamite", **overrides)


def test_a_warm_up_needs_a_belief_model():
    with pytest.raises(ConfigError, match="belief_warmup_steps needs a belief model"):
        make_config(GRID, "rl2", belief_warmup_steps=1000)


def test_unknown_env_and_preset():
    with pytest.raises(ConfigError, match="unknown env 'GridNavi'"):
        make_config("GridNavi", "dynamite")
    with pytest.raises(ConfigError, match="unknown preset 'dynamit'.*did you mean 'dynamite'"):
        make_config(GRID, "dynamit")


def test_config_builder_validates_like_make_config():
    config = DynamiteConfig().dynamite(kl_weight=0.3)
    assert config.dynamite_settings.kl_weight == 0.3
    with pytest.raises(ConfigError, match="unknown setting"):
        DynamiteConfig().dynamite(klweight=0.3)


def test_every_setting_is_documented():
    doc = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    missing = [f.name for f in dataclasses.fields(DynamiteSettings) if f"`{f.name}`" not in doc]
    assert not missing, f"document these settings in docs/configuration.md: {missing}"


def test_true_latent_probe_needs_the_oracle_observation():
    from rllib_dynamite.config import ConfigError, resolve_settings

    with pytest.raises(ConfigError, match="oracle=True"):
        resolve_settings("rllib_dynamite.suite:SetPointTracker", policy_belief="true_latent")
    settings = resolve_settings(
        "rllib_dynamite.suite:SetPointTracker", policy_belief="true_latent", oracle=True
    )
    assert settings.policy_belief == "true_latent"
