"""Typed settings of a run and their validation (docs/configuration.md).

Every knob of an experiment is a field of :class:`DynamiteSettings` with a default and a
one-line help. :func:`validate_settings` checks names and types, :func:`check_values`
ranges and combinations; both raise :class:`ConfigError` naming the setting. This
module imports neither Ray nor torch, so the CLI refuses a bad setting before loading
them.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class DynamiteSettings:
    """All settings of a run. Field comments are the one-line help (docs/configuration.md)."""

    # --- DynaMITE switches (method.md §4)
    masking: bool = True  # session masking of the reconstruction
    latent_conditioning: bool = True  # latent-dynamics prior at session starts
    consistency: bool = True  # session-consistency loss
    termination_head: bool = True  # termination head and its loss
    use_vae: bool = True  # train a belief model at all (off for RL², Oracle, Markov PPO)
    policy_input: Literal["belief", "hidden", "obs"] = "belief"  # what the policy sees with s_t
    detach_belief: bool = True  # keep the RL loss out of the encoder (VariBAD default)
    # --- environment
    env_config: dict = field(default_factory=dict)  # keyword arguments of the env (p, H, ...)
    oracle: bool = False  # append the true latent to the observation
    # --- belief model
    state_embed_dim: int = 32  # state embedding size (0: leave the state out)
    action_embed_dim: int = 16  # action embedding size (0: leave the action out)
    reward_embed_dim: int = 16  # reward embedding size (0: leave the reward out)
    gru_hidden_dim: int = 128  # GRU size
    latent_dim: int = 5  # belief dimension D
    reward_decoder_hiddens: list[int] = field(default_factory=lambda: [64, 32])  # reward decoder
    reward_decoder_grid: list[int] = field(default_factory=list)  # cells per state dim: per-cell
    reward_loss: Literal["mse", "bce"] = "mse"  # reward likelihood; bce: target is r > 0
    state_decoder: bool = False  # also decode the next state
    state_decoder_hiddens: list[int] = field(default_factory=lambda: [64, 32])  # state decoder
    prior_hiddens: list[int] = field(default_factory=lambda: [32])  # latent-dynamics prior MLP
    belief_reward_clip: float = 0.0  # clip r_t to ±this for the belief model (0: off)
    belief_reward_scale: float = 1.0  # times r_t (after the clip) for the belief model
    belief_norm_window: int = 0  # samples the policy's belief normaliser remembers (0: all)
    # what of the belief the policy reads; true_latent: the env's latent instead (a probe)
    policy_belief: Literal["mean_logvar", "mean", "sample", "true_latent"] = "mean_logvar"
    normalize_observations: bool = False  # running mean/std of s_t for policy and critic
    # --- belief-model training (method.md §3)
    vae_lr: float = 1e-3  # belief-model learning rate
    kl_weight: float = 0.1  # β_KL
    consistency_weight: float = 0.005  # λ_cons (method.md §9: chosen on the 21-goal GridNavi)
    consistency_pull_only: bool = False  # L_cons detaches δ_t: it never pushes b_t away
    consistency_kl: Literal["forward", "reverse"] = "forward"  # δ_t: KL(b_t‖b_e) or KL(b_e‖b_t)
    consistency_reduction: Literal["sum", "mean"] = "mean"  # hinges averaged per pair, or summed
    consistency_target_grad: bool = False  # L_cons's gradient also reaches the final belief
    termination_weight: float = 1.0  # λ_term
    termination_pos_weight: float = 0.0  # weight of boundary steps in L_term; 0: (1-p)/p ≤ 100
    vae_buffer_episodes: int = 2_000  # capacity of the recent-episode buffer
    vae_batch_episodes: int = 10  # episodes per belief-model update
    vae_updates_per_iteration: int = 1  # belief-model updates per training iteration
    vae_subsample_beliefs: int = 0  # beliefs decoded per episode (0: all)
    vae_subsample_transitions: int = 0  # transitions decoded per belief (0: all)
    vae_grad_clip: float = 0.0  # global-norm clip of belief-model gradients (0: off)
    belief_warmup_steps: int = 0  # env steps the belief model trains before the policy learns
    belief_freeze_steps: int = 0  # env steps after which the belief model stops (0: never)
    # --- policy and PPO
    policy_hiddens: list[int] = field(default_factory=lambda: [128, 128])  # policy MLP
    value_hiddens: list[int] = field(default_factory=lambda: [128, 128])  # critic MLP
    activation: Literal["tanh", "relu"] = "tanh"  # policy/critic activation
    lr: float = 7e-4  # policy and critic learning rate
    gamma: float = 0.97  # discount
    lambda_: float = 0.9  # GAE λ
    clip_param: float = 0.1  # PPO clip
    entropy_coeff: float = 0.01  # entropy bonus
    vf_loss_coeff: float = 0.5  # value-loss weight
    vf_clip_param: float = 1_000.0  # clip of the (squared) value loss
    num_epochs: int = 2  # PPO epochs per iteration
    num_minibatches: int = 8  # PPO minibatches per epoch
    grad_clip: float = 0.5  # global-norm clip of policy gradients (0: off)
    initial_action_std: float = 1.0  # a continuous policy's initial action std (all presets)
    policy_output_gain: float = 0.0  # orthogonal init gain of the policy's last layer (0: torch's)
    # --- sampling and resources
    num_env_runners: int = 1  # EnvRunner actors (0: sample in the driver)
    num_envs_per_env_runner: int = 16  # vectorised envs per EnvRunner
    episodes_per_iteration: int = 0  # episodes per training batch (0: one per env)
    seed: int | None = None  # global seed (None: random)

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """The env's keyword arguments, ``oracle`` included."""
        return {**self.env_config, **({"oracle": True} if self.oracle else {})}


class ConfigError(ValueError):
    """A bad setting: the message names it and what is allowed."""


def _closest(name: str, candidates: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return value in typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_type_ok(v, item_type) for v in value)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _describe(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        return f"one of {list(typing.get_args(annotation))}"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


SETTING_TYPES = typing.get_type_hints(DynamiteSettings)


def validate_settings(values: dict[str, Any]) -> None:
    """Check names and types of ``values`` against :class:`DynamiteSettings`."""
    for name, value in values.items():
        if name not in SETTING_TYPES:
            raise ConfigError(f"unknown setting {name!r}{_closest(name, SETTING_TYPES)}")
        annotation = SETTING_TYPES[name]
        if not _type_ok(value, annotation):
            raise ConfigError(f"setting {name!r} must be {_describe(annotation)}, got {value!r}")


def check_values(settings: DynamiteSettings) -> None:
    """Check the values of ``settings`` against each other and their ranges."""
    positive = (
        "lr", "vae_lr", "gru_hidden_dim", "latent_dim", "num_epochs", "num_minibatches",
        "num_envs_per_env_runner", "vae_buffer_episodes", "vae_batch_episodes",
        "initial_action_std", "belief_reward_scale",
    )  # fmt: skip
    # Written as "not (value > 0)" so that NaN fails the check instead of slipping past.
    for name in positive:
        if not getattr(settings, name) > 0:
            raise ConfigError(f"setting {name!r} must be > 0, got {getattr(settings, name)!r}")
    non_negative = (
        "kl_weight", "consistency_weight", "termination_weight", "termination_pos_weight",
        "vae_updates_per_iteration", "vae_subsample_beliefs", "vae_subsample_transitions",
        "num_env_runners", "episodes_per_iteration", "entropy_coeff", "grad_clip",
        "vae_grad_clip", "state_embed_dim", "action_embed_dim", "reward_embed_dim",
        "belief_norm_window", "belief_warmup_steps", "belief_freeze_steps", "belief_reward_clip",
        "policy_output_gain",
    )  # fmt: skip
    for name in non_negative:
        if not getattr(settings, name) >= 0:
            raise ConfigError(f"setting {name!r} must be >= 0, got {getattr(settings, name)!r}")
    for name in ("gamma", "lambda_"):
        if not 0.0 <= getattr(settings, name) <= 1.0:
            raise ConfigError(
                f"setting {name!r} must be in [0, 1], got {getattr(settings, name)!r}"
            )
    if settings.policy_input == "belief" and not settings.use_vae:
        raise ConfigError("policy_input 'belief' needs use_vae=True")
    if settings.policy_belief == "true_latent" and not settings.oracle:
        raise ConfigError("policy_belief 'true_latent' needs oracle=True (the latent in s_t)")
    if settings.belief_warmup_steps and not settings.use_vae:
        raise ConfigError("belief_warmup_steps needs a belief model (use_vae=True)")
    if settings.use_vae and settings.policy_input == "obs":
        raise ConfigError("policy_input 'obs' (a memoryless policy) cannot use the belief model")


def required_labels(settings: DynamiteSettings) -> tuple[str, ...]:
    """The labels of the env's ``info`` a run reads: ``session_id`` for the belief
    model's losses, ``latent`` for the Oracle's observation."""
    return ("session_id",) * settings.use_vae + ("latent",) * settings.oracle
