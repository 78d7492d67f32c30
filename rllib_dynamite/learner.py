"""``DynamiteLearner``: PPO plus the session-aware VAE of docs/method.md §3.

PPO updates policy and critic on the belief-augmented input as usual. Every training
batch's episodes also enter a bounded buffer of recent episodes; after the PPO epochs,
``vae_updates_per_iteration`` belief-model steps are taken on episodes drawn from it,
with the belief model's own optimizer and learning rate.

With ``belief_warmup_steps`` the policy and critic take no step until that many env
steps have been sampled (VariBAD's ``pretrain_len``): the initial, near-uniform policy
collects episodes, and the belief model trains on them alone, so the policy first learns
from a belief that already tells the latent apart.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from ray.rllib.algorithms.ppo.ppo import LEARNER_RESULTS_VF_EXPLAINED_VAR_KEY
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.learner import (
    AddOneTsToEpisodesAndTruncate,
    GeneralAdvantageEstimation,
)
from ray.rllib.core.columns import Columns
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME
from ray.rllib.utils.torch_utils import explained_variance
from ray.rllib.utils.typing import ModuleID, ParamDict

from rllib_dynamite import losses
from rllib_dynamite.connectors import SESSION_ID, AddBeliefToBatch, BatchEpisodeFlags
from rllib_dynamite.episode_buffer import EpisodeBuffer
from rllib_dynamite.rl_module import BELIEF_LOGVAR, BELIEF_MEAN, DynamiteRLModule


class DynamiteLearner(PPOTorchLearner):
    """PPO Learner with DynaMITE-RL's belief-model losses and switches.

    Reads ``config.dynamite_settings`` (:class:`~rllib_dynamite.config.DynamiteSettings`).
    """

    def build(self) -> None:
        super().build()
        self._vae_buffers: dict[ModuleID, EpisodeBuffer] = {}
        self._env_steps_lifetime = 0
        if (
            self._learner_connector is not None
            and self.config.add_default_connectors_to_learner_pipeline
        ):
            # One encoder pass per batch, shared by GAE and PPO's epochs.
            self._learner_connector.insert_before(GeneralAdvantageEstimation, AddBeliefToBatch())
            self._learner_connector.insert_after(AddOneTsToEpisodesAndTruncate, BatchEpisodeFlags())

    def _settings(self, module_id: ModuleID) -> Any:
        return self.config.get_config_for_module(module_id).dynamite_settings

    # -- optimizers --------------------------------------------------------------------
    def configure_optimizers_for_module(self, module_id: ModuleID, config: Any = None) -> None:
        module: DynamiteRLModule = self._module[module_id]
        settings = self._settings(module_id)
        rl_parts = [module.pi, module.pi_head, module.vf]
        belief_parts = [module.encoder, module.reward_decoder, module.latent_prior]
        if module.state_decoder is not None:
            belief_parts.append(module.state_decoder)
        if not settings.use_vae:
            # RL²: the encoder is trained by the RL loss alone.
            rl_parts, belief_parts = rl_parts + belief_parts, []
        # ``foreach``: one multi-tensor Adam step over all parameters instead of one per
        # tensor (torch's CPU default), with bit-identical results; ~40 small tensors.
        rl_params = [p for part in rl_parts for p in part.parameters()]
        if not module.discrete:
            rl_params.append(module.log_std)
        self.register_optimizer(
            module_id=module_id,
            optimizer_name="policy",
            optimizer=torch.optim.Adam(rl_params, lr=config.lr, foreach=True),
            params=rl_params,
            lr_or_lr_schedule=config.lr,
        )
        if belief_parts:
            belief_params = [p for part in belief_parts for p in part.parameters()]
            self.register_optimizer(
                module_id=module_id,
                optimizer_name="vae",
                optimizer=torch.optim.Adam(belief_params, lr=settings.vae_lr, foreach=True),
                params=belief_params,
                lr_or_lr_schedule=settings.vae_lr,
            )

    def _warming_up(self, module_id: ModuleID) -> bool:
        return self._env_steps_lifetime < self._settings(module_id).belief_warmup_steps

    def before_gradient_based_update(self, *, timesteps: dict[str, Any]) -> None:
        super().before_gradient_based_update(timesteps=timesteps)
        # The Algorithm's lifetime count, restored with a checkpoint: a resumed run does
        # not warm up again.
        self._env_steps_lifetime = timesteps.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0)
        for module_id in self.module.keys():
            self.metrics.log_value(
                (module_id, "policy_warming_up"), float(self._warming_up(module_id)), window=1
            )

    def compute_gradients(self, loss_per_module: dict[ModuleID, Any], **kwargs: Any) -> ParamDict:
        # While the belief model warms up, the PPO loss is computed and logged but takes
        # no step: no backward pass, so no gradient reaches any optimizer.
        loss_per_module = {
            module_id: loss
            for module_id, loss in loss_per_module.items()
            if not self._warming_up(module_id)
        }
        if not loss_per_module:
            # Clear what the last belief-model update left, or the optimizer steps
            # that follow would apply it again.
            for optimizer in self._optimizer_parameters:
                optimizer.zero_grad(set_to_none=True)
            return {}
        # Parameters the PPO loss does not reach (the belief model, when the belief is
        # detached) have no gradient; leave them out rather than hand ``None`` on.
        gradients = super().compute_gradients(loss_per_module, **kwargs)
        return {ref: grad for ref, grad in gradients.items() if grad is not None}

    def compute_loss_for_module(
        self, *, module_id: ModuleID, config: Any, batch: dict[str, Any], fwd_out: dict[str, Any]
    ) -> torch.Tensor:
        module: DynamiteRLModule = self.module[module_id].unwrapped()
        if module.obs_normalizer is not None:
            # After the forward pass, as the belief normaliser: this minibatch was read
            # with the statistics it was sampled with.
            mask = batch[Columns.LOSS_MASK].bool()
            policy_obs_dim = module.obs_dim - module.true_latent_size
            module.obs_normalizer.update(batch[Columns.OBS][mask][:, :policy_obs_dim])
        if module.policy_input == "belief" and not self._warming_up(module_id):
            # Track the statistics of the policy's belief input (see RunningNormalizer),
            # from the first belief the policy learns on.
            mask = batch[Columns.LOSS_MASK].bool()
            belief = torch.cat([fwd_out[BELIEF_MEAN], fwd_out[BELIEF_LOGVAR]], dim=-1)
            policy_belief = module.policy_belief_input(batch[Columns.OBS], belief)
            module.belief_normalizer.update(policy_belief[mask].detach())
        loss = super().compute_loss_for_module(
            module_id=module_id, config=config, batch=batch, fwd_out=fwd_out
        )
        targets = batch[Postprocessing.VALUE_TARGETS]
        if targets.dim() > 1:
            # RLlib's explained variance takes variances over dim 0 and reports column 0:
            # on this module's batches (one episode per row) that is each episode's first
            # step alone, where the critic knows nothing yet. Log it over every valid step,
            # from the critic's input of this forward pass (the critic alone, as PPO's).
            mask = batch[Columns.LOSS_MASK].bool()
            with torch.no_grad():
                values = module.compute_values(batch, embeddings=fwd_out[Columns.EMBEDDINGS])
            self.metrics.log_value(
                (module_id, LEARNER_RESULTS_VF_EXPLAINED_VAR_KEY),
                explained_variance(targets[mask], values[mask]),
                window=1,
            )
        return loss

    # -- the episode buffer ------------------------------------------------------------
    def _make_batch_if_necessary(self, training_data: Any) -> Any:
        # The learner connectors only build the batch; nothing in it is differentiated.
        # Without this, GAE's value pass (RL²: the GRU over the whole batch) recorded an
        # autograd graph that was thrown away.
        with torch.no_grad():
            batch = super()._make_batch_if_necessary(training_data)
        for module_id, module_batch in batch.policy_batches.items():
            if not self._settings(module_id).use_vae:
                continue
            session_ids, valid = module_batch[SESSION_ID], module_batch[Columns.LOSS_MASK].bool()
            self._buffer(module_id).add(
                obs=module_batch[Columns.OBS], session_ids=session_ids, valid=valid
            )
            # The env's session labels as the learner received them (rows: episodes).
            sessions = session_ids.masked_fill(~valid, 0).amax(dim=1) + 1
            self.metrics.log_value(
                (module_id, "sessions_per_episode"),
                sessions[valid.any(dim=1)].float().mean().item(),
                window=1,
            )
        return batch

    def _buffer(self, module_id: ModuleID) -> EpisodeBuffer:
        if module_id not in self._vae_buffers:
            settings = self._settings(module_id)
            self._vae_buffers[module_id] = EpisodeBuffer(
                settings.vae_buffer_episodes, seed=settings.seed
            )
        return self._vae_buffers[module_id]

    # -- belief-model updates ------------------------------------------------------------
    def after_gradient_based_update(self, *, timesteps: dict[str, Any]) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        for module_id in self.module.keys():
            settings = self._settings(module_id)
            if not settings.use_vae or module_id not in self._vae_buffers:
                continue
            if settings.belief_freeze_steps and (
                self._env_steps_lifetime >= settings.belief_freeze_steps
            ):
                continue
            for _ in range(settings.vae_updates_per_iteration):
                self._vae_update(module_id)

    def _vae_update(self, module_id: ModuleID) -> None:
        module: DynamiteRLModule = self.module[module_id].unwrapped()
        settings = self._settings(module_id)
        obs, session_ids, valid = self._buffer(module_id).sample(settings.vae_batch_episodes)
        obs, session_ids, valid = (x.to(self._device) for x in (obs, session_ids, valid))
        vae_losses = vae_loss(
            module, obs, session_ids, valid, settings, settings.termination_pos_weight
        )
        optimizer = self.get_optimizer(module_id, "vae")
        optimizer.zero_grad(set_to_none=True)
        vae_losses["total"].backward()
        if settings.vae_grad_clip:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, settings.vae_grad_clip)
        optimizer.step()
        self.metrics.log_dict(
            {f"vae_{name}": value.detach() for name, value in vae_losses.items()},
            key=module_id,
            window=1,
        )


def _subsample(length: int, count: int, generator: torch.Generator | None) -> torch.Tensor:
    """Sorted random indices into ``range(length)`` (all of them when ``count`` is 0)."""
    if count <= 0 or count >= length:
        return torch.arange(length)
    return torch.randperm(length, generator=generator)[:count].sort().values


def transition_nll(
    module: DynamiteRLModule,
    settings: Any,
    latent: torch.Tensor,
    obs: torch.Tensor,
    transition_index: torch.Tensor | None = None,
) -> torch.Tensor:
    """Negative log-likelihood of every transition under every latent (method.md §3).

    Args:
        module: the RLModule holding the decoders.
        settings: the run's ``DynamiteSettings`` (``reward_loss``).
        latent: [B, Tb, D] latent samples (or belief means).
        obs: [B, T+1, S+A+1] augmented observations; transition ``x_k`` is
            ``(s_k, a_k, r_{k+1}, s_{k+1})`` from rows ``k`` and ``k+1``.
        transition_index: which transitions to score (default: all T).

    Returns:
        [B, Tb, Tk]: the reward term, plus the next-state term with a state decoder.
    """
    s, prev_action, prev_reward = module.split_observation(obs)
    state, action, reward, next_state = s[:, :-1], prev_action[:, 1:], prev_reward[:, 1:], s[:, 1:]
    if transition_index is not None:
        state, action, reward, next_state = (
            x[:, transition_index] for x in (state, action, reward, next_state)
        )
    predicted = module.decode_reward(latent, state, action, next_state)
    target = reward.squeeze(-1).unsqueeze(1).expand_as(predicted)
    if settings.reward_loss == "bce":
        nll = F.binary_cross_entropy_with_logits(predicted, (target > 0).float(), reduction="none")
    else:
        nll = (predicted - target).pow(2)
    if module.state_decoder is not None:
        predicted_state = module.state_decoder(latent, torch.cat([state, action], dim=-1))
        nll = nll + (predicted_state - next_state.unsqueeze(1)).pow(2).sum(-1)
    return nll


def vae_loss(
    module: DynamiteRLModule,
    obs: torch.Tensor,
    session_ids: torch.Tensor,
    valid: torch.Tensor,
    settings: Any,
    termination_pos_weight: float,
) -> dict[str, torch.Tensor]:
    """The DynaMITE VAE loss on whole episodes (method.md §3), term by term.

    Args:
        module: the RLModule holding encoder, decoders and prior.
        obs: [B, T+1, S+A+1] augmented observations ``[s_t, a_{t-1}, r_t]``; row ``t+1``
            carries transition ``x_t``'s action, reward and next state.
        session_ids: [B, T] σ(t) of transition ``x_t``.
        valid: [B, T] real (non-padding) transitions.
        settings: the run's ``DynamiteSettings`` (switches and weights).
        termination_pos_weight: weight of boundary steps in the termination loss.

    Returns:
        ``total`` and each term (``reconstruction_loss``, ``kl_loss``,
        ``consistency_loss``, ``termination_loss``) plus termination ``accuracy``,
        ``precision``, ``recall`` and ``f1``, all scalars.
    """
    batch_size = obs.shape[0]
    initial_state = torch.zeros(batch_size, module.gru_hidden_dim, device=obs.device)
    encoded = module.encode(obs, initial_state)
    # Beliefs b_{-1} ... b_{T-1}: index j is the belief after transitions x_0 .. x_{j-1}.
    mean, logvar = encoded.belief_mean, encoded.belief_logvar
    latent_sample = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)

    # Reconstruction with session masking. b_{-1} belongs to the first session.
    belief_session_ids = torch.cat([session_ids[:, :1], session_ids], dim=1)
    belief_valid = torch.cat([valid[:, :1], valid], dim=1)
    belief_index = _subsample(belief_valid.shape[1], settings.vae_subsample_beliefs, None)
    transition_index = _subsample(valid.shape[1], settings.vae_subsample_transitions, None)
    nll = transition_nll(module, settings, latent_sample[:, belief_index], obs, transition_index)
    mask = losses.session_mask(
        belief_session_ids[:, belief_index],
        session_ids[:, transition_index],
        belief_valid[:, belief_index],
        valid[:, transition_index],
        masking=settings.masking,
    )
    terms = {
        "reconstruction_loss": losses.reconstruction_loss(nll, mask, belief_valid[:, belief_index])
    }

    # KL with latent belief conditioning: prior_t from z ~ b_{t-1} through the dynamics.
    if settings.latent_conditioning:
        prior_mean, prior_logvar = module.latent_prior(latent_sample[:, :-1])
    else:
        prior_mean, prior_logvar = mean[:, :-1], logvar[:, :-1]
    terms["kl_loss"] = losses.kl_loss(
        mean, logvar, prior_mean, prior_logvar, session_ids, valid, settings.latent_conditioning
    )
    total = terms["reconstruction_loss"] + settings.kl_weight * terms["kl_loss"]

    if settings.consistency:
        terms["consistency_loss"] = losses.consistency_loss(
            mean[:, 1:],
            logvar[:, 1:],
            session_ids,
            valid,
            pull_only=settings.consistency_pull_only,
            reverse=settings.consistency_kl == "reverse",
            reduction=settings.consistency_reduction,
            target_grad=settings.consistency_target_grad,
        )
        total = total + settings.consistency_weight * terms["consistency_loss"]
    if settings.termination_head:
        logits = encoded.termination_logit[:, 1:]
        terms["termination_loss"] = losses.termination_loss(
            logits, session_ids, valid, termination_pos_weight
        )
        total = total + settings.termination_weight * terms["termination_loss"]
        metrics = losses.termination_metrics(
            logits.detach(), session_ids, valid, losses.boundary_threshold(termination_pos_weight)
        )
        terms.update({f"termination_{name}": value for name, value in metrics.items()})
    terms["total"] = total
    return terms


__all__ = ["DynamiteLearner", "transition_nll", "vae_loss"]
