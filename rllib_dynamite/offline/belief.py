"""Offline belief-model training and belief relabelling (method.md §3, §5; docs/offline.md).

The belief model is the online run's :class:`~rllib_dynamite.rl_module.DynamiteRLModule`
trained with the same :func:`~rllib_dynamite.learner.vae_loss` and switches, on whole
episodes drawn from the dataset instead of a buffer of recent ones.

Label-free mode [choice, beyond the paper]: σ comes from the termination head's own
predictions (:func:`~rllib_dynamite.losses.session_ids_from_termination`), after a
warm-up in which every episode is one session. The head itself is trained on
*surprise* pseudo-labels: transition ``x_t`` opens a session when the belief before it
explains it worse than the uninformed belief ``b_{-1}`` by more than
``label_free_threshold`` nats, i.e. a log-likelihood ratio test of "a new latent" against
"the same latent".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rllib_dynamite import losses
from rllib_dynamite.connectors import PrevActionRewardObservation
from rllib_dynamite.learner import transition_nll, vae_loss
from rllib_dynamite.offline.belief_env import belief_features
from rllib_dynamite.offline.dataset import EpisodeArrays

RELABEL_CHUNK = 256  # episodes per encoder pass when relabelling


@dataclass
class EpisodeTensors:
    """A dataset's episodes as the encoder reads them, zero-padded to ``T`` transitions.

    ``obs``: [N, T+1, S+A+1] ``[s_t, a_{t-1}, r_t]`` (zeros for ``a_{-1}, r_0``);
    ``session_ids``: [N, T] σ(t) (zeros without labels: ``labelled`` is then False);
    ``valid``: [N, T].
    """

    obs: torch.Tensor
    session_ids: torch.Tensor
    valid: torch.Tensor
    labelled: bool

    def __len__(self) -> int:
        return self.obs.shape[0]


def _action_features(actions: np.ndarray, action_space: gym.Space) -> np.ndarray:
    if isinstance(action_space, gym.spaces.Discrete):
        return np.eye(int(action_space.n), dtype=np.float32)[actions.astype(np.int64)]
    return actions.reshape(len(actions), -1).astype(np.float32)


def episode_tensors(episodes: list[EpisodeArrays], action_space: gym.Space) -> EpisodeTensors:
    """Pad ``episodes`` into :class:`EpisodeTensors`."""
    max_steps = max(len(e) for e in episodes)
    first = episodes[0]
    obs_dim = first.obs.shape[1]
    action_dim = _action_features(first.actions[:1], action_space).shape[1]
    obs = np.zeros((len(episodes), max_steps + 1, obs_dim + action_dim + 1), np.float32)
    session_ids = np.zeros((len(episodes), max_steps), np.int64)
    valid = np.zeros((len(episodes), max_steps), bool)
    for row, episode in enumerate(episodes):
        steps = len(episode)
        obs[row, : steps + 1, :obs_dim] = episode.obs
        obs[row, 1 : steps + 1, obs_dim:-1] = _action_features(episode.actions, action_space)
        obs[row, 1 : steps + 1, -1] = episode.rewards
        valid[row, :steps] = True
        if episode.session_ids is not None:
            session_ids[row, :steps] = episode.session_ids
            session_ids[row, steps:] = episode.session_ids[-1]
    labelled = all(e.session_ids is not None for e in episodes)
    return EpisodeTensors(
        torch.from_numpy(obs), torch.from_numpy(session_ids), torch.from_numpy(valid), labelled
    )


def build_belief_module(config: Any, observation_space: gym.Space, action_space: gym.Space) -> Any:
    """The :class:`~rllib_dynamite.rl_module.DynamiteRLModule` of an online ``config``
    (:func:`~rllib_dynamite.config.make_config`), for the env's own spaces."""
    spec = config.rl_module_spec
    spec.observation_space = PrevActionRewardObservation().recompute_output_observation_space(
        observation_space, action_space
    )
    spec.action_space = action_space
    return spec.build()


def belief_parameters(module: Any) -> list[torch.nn.Parameter]:
    """Parameters of the belief model: encoder, decoders and latent prior."""
    parts = [module.encoder, module.reward_decoder, module.latent_prior]
    if module.state_decoder is not None:
        parts.append(module.state_decoder)
    return [p for part in parts for p in part.parameters()]


def surprise_session_ids(
    module: Any, settings: Any, obs: torch.Tensor, valid: torch.Tensor, threshold: float
) -> torch.Tensor:
    """[B, T] σ from surprise pseudo-labels (module docstring): x_t opens a session when
    ``nll(x_t | μ_{t-1}) − nll(x_t | μ_{-1}) > threshold``."""
    batch_size, num_steps = valid.shape
    with torch.no_grad():
        encoded = module.encode(obs, torch.zeros(batch_size, module.gru_hidden_dim))
        mean = encoded.belief_mean  # row t: the belief before x_t
        latent_dim = mean.shape[-1]
        # The belief before x_t against x_t alone: one pair per (episode, step).
        single = obs.unfold(1, 2, 1).permute(0, 1, 3, 2).reshape(batch_size * num_steps, 2, -1)
        same = transition_nll(
            module, settings, mean[:, :-1].reshape(-1, 1, latent_dim), single
        ).reshape(batch_size, num_steps)
        fresh = transition_nll(module, settings, mean[:, :1], obs)[:, 0]
    starts = (same - fresh > threshold) & valid
    starts[:, 0] = False
    return torch.cumsum(starts.long(), dim=1)


def _label_free_session_ids(
    module: Any, obs: torch.Tensor, valid: torch.Tensor, warmup: bool, pos_weight: float
) -> torch.Tensor:
    """σ from the termination head's predictions; one session per episode in warm-up."""
    if warmup:
        return torch.zeros(valid.shape, dtype=torch.int64)
    with torch.no_grad():
        encoded = module.encode(obs, torch.zeros(len(obs), module.gru_hidden_dim))
    return losses.session_ids_from_termination(
        encoded.termination_logit[:, 1:],
        valid,
        losses.boundary_threshold(pos_weight),
    )


def _label_free_termination_terms(
    module: Any,
    settings: Any,
    obs: torch.Tensor,
    valid: torch.Tensor,
    threshold: float,
    true_ids: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """The head's loss against surprise pseudo-labels, and (with ``true_ids``) its scores
    against the true boundaries, never trained on."""
    pseudo_ids = surprise_session_ids(module, settings, obs, valid, threshold)
    logits = module.encode(obs, torch.zeros(len(obs), module.gru_hidden_dim))
    logits = logits.termination_logit[:, 1:]
    terms = {
        "termination_loss": losses.termination_loss(
            logits, pseudo_ids, valid, settings.termination_pos_weight
        )
    }
    if true_ids is not None:
        boundary = losses.boundary_threshold(settings.termination_pos_weight)
        for name, value in losses.termination_metrics(logits, true_ids, valid, boundary).items():
            terms[f"termination_true_{name}"] = value
    return terms


def train_belief_model(
    module: Any,
    data: EpisodeTensors,
    settings: Any,
    *,
    steps: int,
    label_free: bool = False,
    label_free_threshold: float = 1.0,
    label_free_warmup: float = 0.25,
    log: Callable[[int, dict[str, float]], None] | None = None,
    log_interval: int = 50,
) -> dict[str, float]:
    """Train the belief model of ``module`` for ``steps`` gradient steps on batches of
    ``settings.vae_batch_episodes`` episodes drawn uniformly; returns the last step's
    terms. Seeds torch with ``settings.seed`` (the reparameterised samples).

    With ``label_free`` the dataset's session labels are never read for training (see the
    module docstring); where the dataset has them, the termination head is scored against
    them (``termination_true_*``).
    """
    if label_free and not settings.termination_head:
        raise ValueError("label-free mode builds sessions from the termination head: "
                         "use a preset with termination_head on (e.g. dynamite)")  # fmt: skip
    seed = 0 if settings.seed is None else settings.seed
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(belief_parameters(module), lr=settings.vae_lr)
    # Label-free: vae_loss leaves the head out; it is trained on pseudo-labels instead.
    loss_settings = (
        dataclasses.replace(settings, termination_head=False) if label_free else settings
    )
    warmup_steps = int(label_free_warmup * steps)
    terms: dict[str, torch.Tensor] = {}
    module.train()
    for step in range(steps):
        index = torch.randint(len(data), (settings.vae_batch_episodes,), generator=generator)
        obs, true_ids, valid = data.obs[index], data.session_ids[index], data.valid[index]
        session_ids = (
            _label_free_session_ids(
                module, obs, valid, step < warmup_steps, settings.termination_pos_weight
            )
            if label_free
            else true_ids
        )
        terms = vae_loss(
            module, obs, session_ids, valid, loss_settings, settings.termination_pos_weight
        )
        if label_free:
            terms.update(
                _label_free_termination_terms(
                    module,
                    settings,
                    obs,
                    valid,
                    label_free_threshold,
                    true_ids if data.labelled else None,
                )  # fmt: skip
            )
            terms["total"] = (
                terms["total"] + settings.termination_weight * terms["termination_loss"]
            )
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        if settings.vae_grad_clip:
            torch.nn.utils.clip_grad_norm_(belief_parameters(module), settings.vae_grad_clip)
        optimizer.step()
        if log is not None and (step % log_interval == 0 or step == steps - 1):
            log(step, {name: float(value.detach()) for name, value in terms.items()})
    module.eval()
    return {name: float(value.detach()) for name, value in terms.items()}


def relabel(module: Any, data: EpisodeTensors) -> np.ndarray:
    """[N, T+1, 2D] the policy's belief input at every step: row ``t`` is the normalised
    ``(μ, log σ²)`` of ``b_{t-1}``, the belief the policy acts on at ``s_t``.

    First folds every valid step's belief into ``module.belief_normalizer``, so the
    statistics travel with the saved belief model to evaluation.
    """
    means, logvars = [], []
    with torch.no_grad():
        for start in range(0, len(data), RELABEL_CHUNK):
            obs = data.obs[start : start + RELABEL_CHUNK]
            encoded = module.encode(obs, torch.zeros(len(obs), module.gru_hidden_dim))
            means.append(encoded.belief_mean)
            logvars.append(encoded.belief_logvar)
        mean, logvar = torch.cat(means), torch.cat(logvars)
        # Rows 0..T of a valid episode of T transitions are real beliefs.
        rows_valid = torch.cat([data.valid[:, :1], data.valid], dim=1)
        module.belief_normalizer.update(torch.cat([mean, logvar], dim=-1)[rows_valid])
        return belief_features(module, mean, logvar).numpy()
