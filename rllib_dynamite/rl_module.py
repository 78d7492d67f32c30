"""``DynamiteRLModule``: belief encoder, decoders, latent-dynamics prior, policy and critic
(docs/method.md §2) as one stateful RLlib RLModule.

The module reads ``[s_t, a_{t-1}, r_t]`` observations (see
:class:`~rllib_dynamite.connectors.PrevActionRewardObservation`); its recurrent state is
the GRU state. The same class runs on EnvRunners (one step at a time, ``T = 1``) and
on the Learner (whole episodes, ``T = H + 1``). On EnvRunners RLlib builds it
inference-only (:class:`~ray.rllib.core.rl_module.apis.InferenceOnlyAPI`): without the
parts acting never reads, which then also stay out of every weight sync.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import (
    TorchCategorical,
    TorchDiagGaussian,
)
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from torch import nn

from rllib_dynamite.connectors import BELIEF, feature_dim
from rllib_dynamite.models import BeliefEncoder, LatentDynamicsPrior, PairwiseDecoder, mlp
from rllib_dynamite.models.decoder import GridRewardDecoder
from rllib_dynamite.models.encoder import EncoderOutput
from rllib_dynamite.models.mlp import RunningNormalizer, init_output_layer, output_dim

# Output columns beside RLlib's own.
BELIEF_MEAN = "belief_mean"
BELIEF_LOGVAR = "belief_logvar"
TERMINATION_LOGIT = "termination_logit"

# model_config keys and defaults (documented in docs/configuration.md).
MODEL_DEFAULTS: dict[str, Any] = {
    "state_embed_dim": 32,
    "action_embed_dim": 16,
    "reward_embed_dim": 16,
    "gru_hidden_dim": 128,
    "latent_dim": 5,
    "policy_hiddens": [128, 128],
    "value_hiddens": [128, 128],
    "activation": "tanh",
    "policy_input": "belief",
    "detach_belief": True,
    "termination_head": True,
    "reward_decoder_hiddens": [64, 32],
    "reward_decoder_grid": [],
    "state_decoder": False,
    "state_decoder_hiddens": [64, 32],
    "prior_hiddens": [32],
    "belief_norm_window": 0,
    "policy_belief": "mean_logvar",
    "true_latent_size": 0,
    "belief_reward_clip": 0.0,
    "belief_reward_scale": 1.0,
    "normalize_observations": False,
    "initial_action_std": 1.0,
    "policy_output_gain": 0.0,
    "max_seq_len": 201,
}
POLICY_INPUTS = ("belief", "hidden")
POLICY_BELIEFS = ("mean_logvar", "mean", "sample", "true_latent")


class DynamiteRLModule(TorchRLModule, InferenceOnlyAPI, ValueFunctionAPI):
    """DynaMITE-RL's networks.

    ``model_config["policy_input"]`` picks what the policy and critic see beside ``s_t``:
    ``"belief"`` (``μ, log σ²`` of the belief; VariBAD and DynaMITE) or ``"hidden"``
    (the GRU output, trained end to end by PPO: RL²). With ``detach_belief`` (default)
    the RL loss does not reach the encoder.

    Inference-only (``inference_only=True``, as on EnvRunners) it holds only the encoder
    (no termination head), the belief normaliser (not for RL²) and the policy: it acts,
    but has no critic, decoders or prior; read those from the Learner's module or a
    checkpoint.
    """

    def setup(self) -> None:
        cfg = {**MODEL_DEFAULTS, **self.model_config}
        if cfg["policy_input"] not in POLICY_INPUTS:
            raise ValueError(
                f"policy_input must be one of {list(POLICY_INPUTS)}, got {cfg['policy_input']!r}"
            )
        self.policy_input = cfg["policy_input"]
        self.detach_belief = bool(cfg["detach_belief"]) and self.policy_input == "belief"
        self.discrete = isinstance(self.action_space, gym.spaces.Discrete)
        self.action_dim = feature_dim(self.action_space)
        self.obs_dim = int(np.prod(self.observation_space.shape)) - self.action_dim - 1
        latent_dim = cfg["latent_dim"]

        self.encoder = BeliefEncoder(
            obs_dim=self.obs_dim,
            action_dim=self.action_dim,
            state_embed_dim=cfg["state_embed_dim"],
            action_embed_dim=cfg["action_embed_dim"],
            reward_embed_dim=cfg["reward_embed_dim"],
            hidden_dim=cfg["gru_hidden_dim"],
            latent_dim=latent_dim,
            # RLlib removes the other non-inference parts itself after setup(), but it
            # cannot remove a nested one ("encoder.termination_head"): leave it out here.
            termination_head=cfg["termination_head"] and not self.inference_only,
        )
        self.gru_hidden_dim = cfg["gru_hidden_dim"]
        self.reward_clip = float(cfg["belief_reward_clip"])
        self.reward_scale = float(cfg["belief_reward_scale"])
        if cfg["policy_belief"] not in POLICY_BELIEFS:
            raise ValueError(
                f"policy_belief must be one of {list(POLICY_BELIEFS)}, got {cfg['policy_belief']!r}"
            )
        self.policy_belief = cfg["policy_belief"]
        # The probe "true_latent": the env's latent, appended to s_t (oracle=True), goes
        # to the policy in the belief's place, through the same normaliser; the policy's
        # s_t leaves it out. The belief model still reads and trains on all of s_t.
        self.true_latent_size = (
            int(cfg["true_latent_size"]) if self.policy_belief == "true_latent" else 0
        )
        if self.true_latent_size > 2 * latent_dim:
            raise ValueError(
                f"policy_belief 'true_latent' needs latent_dim >= {self.true_latent_size / 2}"
            )
        belief_dim = latent_dim if self.policy_belief in ("mean", "sample") else 2 * latent_dim
        context_dim = belief_dim if self.policy_input == "belief" else self.gru_hidden_dim
        rl_input_dim = self.obs_dim - self.true_latent_size + context_dim
        self.belief_normalizer = RunningNormalizer(belief_dim, window=cfg["belief_norm_window"])
        # The policy's and critic's s_t only; the belief model reads and predicts raw s.
        self.obs_normalizer = (
            RunningNormalizer(self.obs_dim - self.true_latent_size)
            if cfg["normalize_observations"]
            else None
        )
        activation = cfg["activation"]
        self.pi = mlp(rl_input_dim, cfg["policy_hiddens"], activation=activation)
        pi_out = output_dim(rl_input_dim, cfg["policy_hiddens"])
        self.pi_head = nn.Linear(pi_out, self.action_dim)
        init_output_layer(self.pi_head, cfg["policy_output_gain"])
        if not self.discrete:
            # State-independent log standard deviation, as in VariBAD's Gaussian policy.
            initial = math.log(cfg["initial_action_std"])
            self.log_std = nn.Parameter(torch.full((self.action_dim,), initial))
        self.vf = mlp(rl_input_dim, cfg["value_hiddens"], 1, activation=activation)

        # Decoders and prior (used by the Learner's VAE loss only). A transition is
        # x_k = (s_k, a_k, s_{k+1}) for the reward; (s_k, a_k) for the next state.
        self.reward_decoder_grid = list(cfg["reward_decoder_grid"])
        if self.reward_decoder_grid:
            self.reward_decoder = GridRewardDecoder(
                latent_dim, self.reward_decoder_grid, cfg["reward_decoder_hiddens"]
            )
        else:
            transition_dim = 2 * self.obs_dim + self.action_dim
            self.reward_decoder = PairwiseDecoder(
                latent_dim, transition_dim, cfg["reward_decoder_hiddens"], 1
            )
        self.state_decoder = (
            PairwiseDecoder(
                latent_dim,
                self.obs_dim + self.action_dim,
                cfg["state_decoder_hiddens"],
                self.obs_dim,
            )
            if cfg["state_decoder"]
            else None
        )
        self.latent_prior = LatentDynamicsPrior(latent_dim, cfg["prior_hiddens"])

    def get_non_inference_attributes(self) -> list[str]:
        """What acting never reads: the critic, the decoders, the prior, the termination
        head, and for RL² (which acts on the GRU output) the belief normaliser."""
        attributes = [
            "vf",
            "reward_decoder",
            "state_decoder",
            "latent_prior",
            "encoder.termination_head",
        ]
        if self.policy_input == "hidden":
            attributes.append("belief_normalizer")
        return attributes

    # -- recurrent state ---------------------------------------------------------------
    def get_initial_state(self) -> dict[str, np.ndarray]:
        return {"h": np.zeros((self.gru_hidden_dim,), dtype=np.float32)}

    # -- inputs ----------------------------------------------------------------------
    def split_observation(
        self, obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[s, a_prev, r_prev]`` [..., S+A+1] -> ``(s, a_prev, r_prev[..., None])``.

        ``r_prev`` as the belief model reads and predicts it: clipped to
        ``±belief_reward_clip`` (when set), then times ``belief_reward_scale``. A reward
        whose latent-dependent part is a few hundredths (ScratchItch) otherwise reaches
        the GRU too faint to learn from (docs/results.md, "Table 1", ScratchItch).
        """
        reward = obs[..., -1:]
        if self.reward_clip:
            reward = reward.clamp(-self.reward_clip, self.reward_clip)
        if self.reward_scale != 1.0:
            reward = reward * self.reward_scale
        return (
            obs[..., : self.obs_dim],
            obs[..., self.obs_dim : self.obs_dim + self.action_dim],
            reward,
        )

    def encode(
        self, obs: torch.Tensor, state: torch.Tensor, with_termination: bool = True
    ) -> EncoderOutput:
        """Run the encoder over augmented observations [B, T, S+A+1] from GRU state [B, G]
        (the termination head too, unless not ``with_termination``)."""
        if with_termination and self.inference_only:
            raise ValueError(
                "an inference-only module (an EnvRunner's) has no termination head; "
                "encode with the Learner's module or one restored from a checkpoint"
            )
        s, prev_action, prev_reward = self.split_observation(obs)
        return self.encoder(s, prev_action, prev_reward, state, with_termination)

    @property
    def caches_belief(self) -> bool:
        """Whether a training batch may carry the belief precomputed (column ``BELIEF``).

        With the belief detached, PPO's loss never reaches the encoder, and the belief
        model only changes after PPO's epochs; so the belief of every step is the same
        in GAE's value pass and in every epoch's minibatches, and one pass of the GRU
        over the batch serves them all.
        """
        return self.policy_input == "belief" and self.detach_belief

    def belief(self, obs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The belief ``[μ, log σ²]`` after each step of ``obs`` [B, T, ·]: [B, T, 2D]."""
        return self.encode(obs, state, with_termination=False).belief

    def policy_belief_input(self, obs: torch.Tensor, belief: torch.Tensor) -> torch.Tensor:
        """What of the belief ``[μ, log σ²]`` [..., 2D] the policy reads, before the
        normaliser (``policy_belief``): both, ``μ``, one sample, or the true latent."""
        if self.policy_belief == "mean_logvar":  # the default: nothing to compute per step
            return belief
        if self.policy_belief == "true_latent":
            latent = obs[..., self.obs_dim - self.true_latent_size : self.obs_dim]
            padding = belief.new_zeros((*belief.shape[:-1], belief.shape[-1] - latent.shape[-1]))
            return torch.cat([latent, padding], dim=-1)
        mean, logvar = belief.chunk(2, dim=-1)
        if self.policy_belief == "mean":
            return mean
        return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)

    def _rl_input(self, obs: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``[s_t, context]``: the normalised belief, or the GRU output for RL²."""
        s = obs[..., : self.obs_dim - self.true_latent_size]
        if self.obs_normalizer is not None:
            s = self.obs_normalizer(s)
        if self.policy_input == "hidden":
            return torch.cat([s, context], dim=-1)
        if self.detach_belief:
            context = context.detach()
        return torch.cat([s, self.belief_normalizer(self.policy_belief_input(obs, context))], -1)

    def decode_reward(
        self,
        latent: torch.Tensor,
        state: torch.Tensor,
        action: torch.Tensor,
        next_state: torch.Tensor,
    ) -> torch.Tensor:
        """Reward prediction (mean or logit) of every latent sample for every transition:
        ``latent`` [B, Tb, D]; ``state``, ``action``, ``next_state`` [B, Tk, ·] -> [B, Tb, Tk]."""
        if self.reward_decoder_grid:
            return self.reward_decoder(latent, next_state).squeeze(-1)
        transition = torch.cat([state, action, next_state], dim=-1)
        return self.reward_decoder(latent, transition).squeeze(-1)

    # -- forward passes -----------------------------------------------------------------
    # No layer here behaves differently in train and eval mode (no dropout, no batch
    # norm). RLlib flips the mode around every EnvRunner step, and torch's ``train()``
    # walks all ~30 submodules each time; skip both walks.
    def train(self, mode: bool = True) -> DynamiteRLModule:
        if mode == self.training:
            return self
        return super().train(mode)

    def forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self._forward_exploration(batch, **kwargs)

    def forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self._forward_inference(batch, **kwargs)

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # EnvRunner pass: only what sampling needs, so episodes carry no extra outputs.
        # One step comes without a time axis ([B, D], see AddStepStateToBatch); a
        # sequence ([B, T, D]) is also accepted.
        obs = batch[Columns.OBS]
        untimed = obs.dim() == 2
        if untimed:
            obs = obs.unsqueeze(1)
        encoded = self.encode(obs, batch[Columns.STATE_IN]["h"], with_termination=False)
        context = encoded.hidden if self.policy_input == "hidden" else encoded.belief
        logits = self._action_dist_inputs(self._rl_input(obs, context))
        return {
            Columns.ACTION_DIST_INPUTS: logits.squeeze(1) if untimed else logits,
            Columns.STATE_OUT: {"h": encoded.final_state},
        }

    def _context(
        self, batch: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor, EncoderOutput | None]:
        """``(belief, context, encoded)``: the belief ``[μ, log σ²]``, what the policy
        reads beside ``s_t``, and the encoder's output (``None`` when the batch carries
        the belief precomputed)."""
        if BELIEF in batch:
            return batch[BELIEF], batch[BELIEF], None
        encoded = self.encode(batch[Columns.OBS], batch[Columns.STATE_IN]["h"])
        belief = encoded.belief
        return belief, (encoded.hidden if self.policy_input == "hidden" else belief), encoded

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        obs = batch[Columns.OBS]
        belief, context, encoded = self._context(batch)
        rl_input = self._rl_input(obs, context)
        logits = self._action_dist_inputs(rl_input)
        belief_mean, belief_logvar = belief.chunk(2, dim=-1)
        out = {
            Columns.ACTION_DIST_INPUTS: logits,
            Columns.EMBEDDINGS: rl_input,
            BELIEF_MEAN: belief_mean,
            BELIEF_LOGVAR: belief_logvar,
        }
        if encoded is not None:
            out[Columns.STATE_OUT] = {"h": encoded.final_state}
            out[TERMINATION_LOGIT] = encoded.termination_logit
        return out

    def _action_dist_inputs(self, rl_input: torch.Tensor) -> torch.Tensor:
        logits = self.pi_head(self.pi(rl_input))
        if not self.discrete:
            logits = torch.cat([logits, self.log_std.expand_as(logits)], dim=-1)
        return logits

    def compute_values(
        self, batch: dict[str, Any], embeddings: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Critic on ``[s_t, belief]`` (or ``[s_t, h_t]``): [B, T]."""
        if embeddings is None:
            embeddings = self._rl_input(batch[Columns.OBS], self._context(batch)[1])
        return self.vf(embeddings).squeeze(-1)

    # -- action distributions -------------------------------------------------------
    def get_inference_action_dist_cls(self) -> type:
        return TorchCategorical if self.discrete else TorchDiagGaussian

    def get_exploration_action_dist_cls(self) -> type:
        return self.get_inference_action_dist_cls()

    def get_train_action_dist_cls(self) -> type:
        return self.get_inference_action_dist_cls()
