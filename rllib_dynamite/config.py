"""The RLlib side of a run: :func:`make_config` and :class:`DynamiteConfig`
(docs/configuration.md).

:func:`make_config` layers per-env defaults (:mod:`rllib_dynamite.env_defaults`), a
preset (:mod:`rllib_dynamite.presets`, method.md §4) and the user's overrides, validates
the result (:mod:`rllib_dynamite.settings`), and returns an RLlib ``AlgorithmConfig``
ready for ``.build_algo()``. The env may be any env of
:func:`~rllib_dynamite.envs.resolve.resolve_env`; one instance is built, reset and
stepped once to read its spaces, horizon and session labels. The names of those three
modules are importable from here too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.connectors.env_to_module import FlattenObservations
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_dynamite.connectors import (
    AddSessionIdsToBatch,
    AddStepStateToBatch,
    PrevActionRewardObservation,
)
from rllib_dynamite.env_defaults import ENV_DEFAULTS, space_defaults
from rllib_dynamite.env_runner import FreshEpisodesEnvRunner
from rllib_dynamite.envs.resolve import (
    GUIDE,
    EnvEntry,
    EnvFacts,
    EnvLike,
    probe_env,
    register_with_tune,
    resolve_env,
)
from rllib_dynamite.fault_tolerance import FAULT_TOLERANCE, FaultToleranceCallbacks
from rllib_dynamite.learner import DynamiteLearner
from rllib_dynamite.memoryless_module import MemorylessPPOModule
from rllib_dynamite.presets import MEMORYLESS_PRESETS, PRESET_SETTINGS, PRESETS, check_preset
from rllib_dynamite.rl_module import DynamiteRLModule
from rllib_dynamite.settings import (
    SETTING_TYPES,
    ConfigError,
    DynamiteSettings,
    check_values,
    required_labels,
    validate_settings,
)

__all__ = [
    "ENV_DEFAULTS",
    "MAX_TERMINATION_POS_WEIGHT",
    "MEMORYLESS_PRESETS",
    "PRESETS",
    "PRESET_SETTINGS",
    "SETTING_TYPES",
    "ConfigError",
    "DynamiteConfig",
    "DynamiteSettings",
    "check_values",
    "horizon",
    "make_config",
    "memoryless_module_spec",
    "mlp_model_config",
    "required_labels",
    "resolve_settings",
    "space_defaults",
    "validate_settings",
]

MAX_TERMINATION_POS_WEIGHT = 100.0


def resolve_settings(env: EnvLike, preset: str = "dynamite", **overrides: Any) -> DynamiteSettings:
    """Per-env defaults, then the preset, then ``overrides``; validated."""
    return _resolve(env, preset, overrides)[2]


def horizon(env: EnvLike, settings: DynamiteSettings) -> int:
    """The episode horizon H of ``env`` under ``settings``."""
    return _probe(_entry(env), settings.env_kwargs).horizon


def _resolve(
    env: EnvLike, preset: str, overrides: dict[str, Any]
) -> tuple[EnvEntry, EnvFacts, DynamiteSettings]:
    entry = _entry(env)
    check_preset(preset)
    validate_settings(overrides)
    layers = {**PRESET_SETTINGS[preset], **overrides}
    known_defaults = ENV_DEFAULTS.get(entry.name)
    settings = DynamiteSettings(**{**(known_defaults or {}), **layers})
    check_values(settings)
    if settings.oracle and not (entry.open_parameters or "oracle" in entry.parameters):
        raise ConfigError(
            f"env {entry.name!r} takes no 'oracle' argument, which preset {preset!r} sets to "
            f"append the latent to the observation (DLCMDPEnv does; see {GUIDE})"
        )
    facts = _probe(entry, settings.env_kwargs)
    if known_defaults is None:
        settings = DynamiteSettings(**{**space_defaults(facts), **layers})
    missing = [label for label in required_labels(settings) if label not in facts.labels]
    if missing:
        label_free = [name for name, values in PRESET_SETTINGS.items()
                      if not required_labels(DynamiteSettings(**values))]  # fmt: skip
        raise ConfigError(
            f"env {entry.name!r} cannot train {preset!r}: its step info lacks {missing}, "
            f"the session labels of a DLCMDP (see {GUIDE}); presets that need none: {label_free}"
        )
    if not settings.termination_pos_weight:
        # Boundaries are rare: weigh them by (1 - p) / p, capped (method.md §3 [choice]).
        p = facts.switch_probability
        weight = min((1.0 - p) / p, MAX_TERMINATION_POS_WEIGHT) if p else 1.0
        settings = dataclasses.replace(settings, termination_pos_weight=weight)
    return entry, facts, settings


def _entry(env: EnvLike) -> EnvEntry:
    try:
        return resolve_env(env)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _probe(entry: EnvEntry, env_kwargs: dict[str, Any]) -> EnvFacts:
    try:
        entry.validate(env_kwargs)
    except ValueError as error:
        raise ConfigError(f"env_config: {error}") from None
    try:
        return probe_env(entry, env_kwargs)
    except ValueError as error:
        raise ConfigError(str(error)) from None


class DynamiteConfig(PPOConfig):
    """PPO's config plus :class:`DynamiteSettings` (``config.dynamite_settings``), read by
    :class:`~rllib_dynamite.learner.DynamiteLearner`."""

    def __init__(self, algo_class: type | None = None) -> None:
        super().__init__(algo_class=algo_class)
        self.dynamite_settings = DynamiteSettings()

    def build_module_to_env_connector(self, env: Any = None, spaces: Any = None) -> Any:
        pipeline = super().build_module_to_env_connector(env, spaces)
        # A Discrete action needs no unsquashing or clipping, but RLlib's piece still
        # deep-copies every step's actions into a second column; drop it.
        if isinstance(pipeline.input_action_space, gym.spaces.Discrete):
            pipeline.remove("NormalizeAndClipActions")
        return pipeline

    def dynamite(self, **settings: Any) -> DynamiteConfig:
        """Set DynaMITE settings by name (validated), like ``.training(...)``."""
        validate_settings(settings)
        self.dynamite_settings = dataclasses.replace(self.dynamite_settings, **settings)
        check_values(self.dynamite_settings)
        return self


def mlp_model_config(settings: DynamiteSettings, **extra: Any) -> DefaultModelConfig:
    """RLlib's default PPO module as a plain MLP policy and a separate MLP critic
    (``policy_hiddens``, ``activation``), for the memoryless presets and baselines."""
    return DefaultModelConfig(
        fcnet_hiddens=settings.policy_hiddens,
        fcnet_activation=settings.activation,
        head_fcnet_hiddens=[],
        vf_share_layers=False,
        **extra,
    )


def memoryless_module_spec(settings: DynamiteSettings, action_space: gym.Space) -> RLModuleSpec:
    """The memoryless presets' module: :func:`mlp_model_config`'s MLPs; on a continuous
    action space a free log standard deviation starting at ``initial_action_std``, as
    DynaMITE-RL's policy has (:class:`~rllib_dynamite.memoryless_module.MemorylessPPOModule`)."""
    continuous = isinstance(action_space, gym.spaces.Box)
    model = dataclasses.asdict(mlp_model_config(settings, free_log_std=continuous))
    return RLModuleSpec(
        module_class=MemorylessPPOModule,
        model_config={
            **model,
            "initial_action_std": settings.initial_action_std,
            "policy_output_gain": settings.policy_output_gain,
            "normalize_observations": settings.normalize_observations,
        },
    )


def _env_to_module(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    return [PrevActionRewardObservation(), AddStepStateToBatch()]


def _one_hot_env_to_module(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    # A Discrete observation, one-hot (written back into the episode for the learner).
    return [FlattenObservations(), *_env_to_module()]


def _one_hot_observations(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    return FlattenObservations()


def _learner_connector(observation_space: Any = None, action_space: Any = None) -> Any:
    return AddSessionIdsToBatch()


def _module_model_config(settings: DynamiteSettings, max_seq_len: int) -> dict[str, Any]:
    keys = (
        "state_embed_dim", "action_embed_dim", "reward_embed_dim", "gru_hidden_dim",
        "latent_dim", "policy_hiddens", "value_hiddens", "activation", "policy_input",
        "detach_belief", "termination_head", "reward_decoder_hiddens", "reward_decoder_grid",
        "state_decoder", "state_decoder_hiddens", "prior_hiddens", "belief_norm_window",
        "policy_belief", "initial_action_std", "policy_output_gain",
        "belief_reward_clip", "belief_reward_scale", "normalize_observations",
    )  # fmt: skip
    return {**{k: getattr(settings, k) for k in keys}, "max_seq_len": max_seq_len}


def make_config(env: EnvLike, preset: str = "dynamite", **overrides: Any) -> PPOConfig:
    """An RLlib config for ``env`` and ``preset``, ready for ``.build_algo()``.

    Args:
        env: an id registered with gymnasium or Ray Tune (the built-in
            :data:`rllib_dynamite.envs.ENV_IDS` among them), an env class or factory, or
            an import string ``"package.module:attr"`` (docs/custom_envs.md).
        preset: one of :data:`PRESETS` (method.md §4).
        **overrides: fields of :class:`DynamiteSettings`.

    Raises:
        ConfigError: an unknown env, preset or setting, a bad value, or an env without
            the labels, spaces or horizon the preset needs; the message names it.
    """
    entry, facts, settings = _resolve(env, preset, overrides)
    register_with_tune(entry)
    H = facts.horizon
    episodes = settings.episodes_per_iteration or (
        settings.num_envs_per_env_runner * max(1, settings.num_env_runners)
    )
    train_batch_size = episodes * H
    # A recurrent batch is cut into minibatches of whole episodes (H + 1 rows with PPO's
    # bootstrap step), so a minibatch holds at least one episode.
    episodes_per_minibatch = -(-episodes // settings.num_minibatches)
    config = (
        DynamiteConfig()
        .environment(entry.name, env_config=settings.env_kwargs, is_atari=False)
        .env_runners(
            num_env_runners=settings.num_env_runners,
            num_envs_per_env_runner=settings.num_envs_per_env_runner,
            batch_mode="complete_episodes",
            rollout_fragment_length="auto",
            # Seed the envs once, not before every batch (rllib_dynamite/env_runner.py).
            env_runner_cls=FreshEpisodesEnvRunner,
        )
        .training(
            lr=settings.lr,
            gamma=settings.gamma,
            lambda_=settings.lambda_,
            clip_param=settings.clip_param,
            entropy_coeff=settings.entropy_coeff,
            vf_loss_coeff=settings.vf_loss_coeff,
            vf_clip_param=settings.vf_clip_param,
            use_kl_loss=False,
            num_epochs=settings.num_epochs,
            train_batch_size_per_learner=train_batch_size,
            minibatch_size=episodes_per_minibatch * (H + 1),
            grad_clip=settings.grad_clip or None,
            grad_clip_by="global_norm",
        )
        .fault_tolerance(**FAULT_TOLERANCE)
        .callbacks(FaultToleranceCallbacks)
        .debugging(seed=settings.seed)
    )
    config.dynamite_settings = settings
    one_hot = isinstance(facts.observation_space, gym.spaces.Discrete)
    if settings.policy_input == "obs":
        config.rl_module(rl_module_spec=memoryless_module_spec(settings, facts.action_space))
        if one_hot:
            config.env_runners(env_to_module_connector=_one_hot_observations)
        return config
    config.env_runners(
        env_to_module_connector=_one_hot_env_to_module if one_hot else _env_to_module
    )
    config.learners(learner_class=DynamiteLearner)
    if settings.use_vae:  # only the belief model's losses read the session labels
        config.learners(learner_connector=_learner_connector)
    config.rl_module(
        rl_module_spec=RLModuleSpec(
            module_class=DynamiteRLModule,
            model_config={
                **_module_model_config(settings, max_seq_len=H + 1),
                "true_latent_size": facts.latent_size,
            },
        )
    )
    return config
