"""The GRU belief encoder q_φ with DynaMITE's termination head (docs/method.md §2)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from rllib_dynamite.models.gru import gru_through_time


class EncoderOutput(NamedTuple):
    """What the encoder returns for inputs of shape [B, T, ...].

    ``hidden``: [B, T, G] GRU outputs; ``belief_mean``/``belief_logvar``: [B, T, D];
    ``termination_logit``: [B, T] (zeros when the head is off; ``None`` when not asked
    for); ``final_state``: [B, G].
    """

    hidden: torch.Tensor
    belief_mean: torch.Tensor
    belief_logvar: torch.Tensor
    termination_logit: torch.Tensor | None
    final_state: torch.Tensor

    @property
    def belief(self) -> torch.Tensor:
        """``[μ, log σ²]``: [B, T, 2D], what the policy reads (normalised)."""
        return torch.cat([self.belief_mean, self.belief_logvar], dim=-1)


def _embedding(input_dim: int, embed_dim: int) -> nn.Module | None:
    return nn.Sequential(nn.Linear(input_dim, embed_dim), nn.ReLU()) if embed_dim > 0 else None


class BeliefEncoder(nn.Module):
    """GRU over embedded ``(s_t, a_{t-1}, r_t)``; after input ``t`` its state gives the
    belief ``b_{t-1}`` (the belief after transition ``x_{t-1}``) and the termination
    logit of ``x_{t-1}`` starting a new session.

    Args:
        obs_dim: size of ``s``; action_dim: size of the action features (one-hot for
            discrete actions); the reward is a scalar.
        state_embed_dim, action_embed_dim, reward_embed_dim: embedding sizes; 0 leaves
            that input out (VariBAD's GridNavi uses no action embedding).
        hidden_dim: GRU size G. latent_dim: belief size D.
        termination_head: build the termination head (DynaMITE).
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        state_embed_dim: int,
        action_embed_dim: int,
        reward_embed_dim: int,
        hidden_dim: int,
        latent_dim: int,
        termination_head: bool,
    ) -> None:
        super().__init__()
        self.state_embed = _embedding(obs_dim, state_embed_dim)
        self.action_embed = _embedding(action_dim, action_embed_dim)
        self.reward_embed = _embedding(1, reward_embed_dim)
        gru_input = state_embed_dim + action_embed_dim + reward_embed_dim
        if gru_input == 0:
            raise ValueError("the encoder needs at least one non-zero embedding size")
        self.gru = nn.GRU(gru_input, hidden_dim, batch_first=True)
        self.belief_head = nn.Linear(hidden_dim, 2 * latent_dim)
        self.termination_head = nn.Linear(hidden_dim, 1) if termination_head else None

    def forward(
        self,
        obs: torch.Tensor,
        prev_action: torch.Tensor,
        prev_reward: torch.Tensor,
        state: torch.Tensor,
        with_termination: bool = True,
    ) -> EncoderOutput:
        """``obs`` [B, T, S], ``prev_action`` [B, T, A], ``prev_reward`` [B, T, 1],
        ``state`` [B, G] (the GRU state before the first input).

        Without ``with_termination`` the termination head is not run (acting never reads
        it, and an inference-only module has none; see ``DynamiteRLModule``)."""
        pieces = [
            embed(x)
            for embed, x in (
                (self.state_embed, obs),
                (self.action_embed, prev_action),
                (self.reward_embed, prev_reward),
            )
            if embed is not None
        ]
        inputs = torch.cat(pieces, dim=-1)
        if inputs.shape[1] == 1:
            # One step, as on an EnvRunner: the GRU cell alone is the same arithmetic
            # without nn.GRU's per-call weight checks, about half of a step's GRU time.
            gru = self.gru
            final_state = torch.gru_cell(
                inputs[:, 0],
                state,
                gru.weight_ih_l0,
                gru.weight_hh_l0,
                gru.bias_ih_l0,
                gru.bias_hh_l0,
            )
            hidden = final_state.unsqueeze(1)
        else:
            hidden, final_state = gru_through_time(self.gru, inputs, state)
        belief_mean, belief_logvar = self.belief_head(hidden).chunk(2, dim=-1)
        termination_logit = None
        if with_termination:
            termination_logit = (
                self.termination_head(hidden).squeeze(-1)
                if self.termination_head is not None
                else torch.zeros(hidden.shape[:-1], device=hidden.device)
            )
        return EncoderOutput(hidden, belief_mean, belief_logvar, termination_logit, final_state)
