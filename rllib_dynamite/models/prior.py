"""The latent-dynamics prior p_θ(m' | m) of DynaMITE (docs/method.md §2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rllib_dynamite.models.mlp import mlp


class LatentDynamicsPrior(nn.Module):
    """``p_θ(m' | m) = N(f_μ(m), diag exp f_ρ(m))``: where the latent goes when a
    session ends.

    Args:
        latent_dim: size D of the latent.
        hiddens: hidden layer sizes of the shared MLP.
    """

    def __init__(self, latent_dim: int, hiddens: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(latent_dim, hiddens, 2 * latent_dim, activation="relu")

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``latent``: [..., D] -> ``(mean, logvar)``, each [..., D]."""
        mean, logvar = self.net(latent).chunk(2, dim=-1)
        return mean, logvar
