"""Decoders p_θ that score every belief against every transition (docs/method.md §3).

The first linear layer is split, ``W [m; x] = W_m m + W_x x``, so each belief and each
transition is projected once and the pairs are formed by a broadcast add
(``B×Tb×1×h + B×1×Tk×h``): no ``B×Tb×Tk×(|m|+|x|)`` tensor is ever built.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rllib_dynamite.models.mlp import mlp


class PairwiseDecoder(nn.Module):
    """MLP on ``[m; x]`` evaluated for every (belief sample, transition) pair.

    Args:
        latent_dim: size of the latent sample ``m``.
        input_dim: size of the transition features ``x``.
        hiddens: hidden sizes (at least one; the first is the split layer).
        output_dim: prediction size (1 for a reward, |s| for a next state).
    """

    def __init__(
        self, latent_dim: int, input_dim: int, hiddens: Sequence[int], output_dim: int
    ) -> None:
        super().__init__()
        if not hiddens:
            raise ValueError("PairwiseDecoder needs at least one hidden layer")
        self.latent_proj = nn.Linear(latent_dim, hiddens[0])
        self.input_proj = nn.Linear(input_dim, hiddens[0], bias=False)
        self.head = nn.Sequential(nn.ReLU(), mlp(hiddens[0], hiddens[1:], output_dim, "relu"))

    def forward(self, latent: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """``latent`` [B, Tb, D], ``inputs`` [B, Tk, X] -> [B, Tb, Tk, output_dim]."""
        first = self.latent_proj(latent).unsqueeze(2) + self.input_proj(inputs).unsqueeze(1)
        return self.head(first)

    def forward_aligned(self, latent: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Decode pairs that are already aligned: [..., D], [..., X] -> [..., output_dim]."""
        return self.head(self.latent_proj(latent) + self.input_proj(inputs))


class GridRewardDecoder(nn.Module):
    """VariBAD's gridworld reward decoder: one output per grid cell from the latent alone.

    The prediction for transition ``x_k`` is the output at the cell of ``s_{k+1}``, so
    scoring every belief against every transition is a gather, not a pairwise MLP.

    Args:
        latent_dim: size of the latent sample ``m``.
        grid_shape: cells per state dimension, e.g. ``[5, 5]``; a state is the integer
            coordinates of its cell.
        hiddens: hidden sizes of the MLP from ``m`` to the cell outputs.
    """

    def __init__(self, latent_dim: int, grid_shape: Sequence[int], hiddens: Sequence[int]) -> None:
        super().__init__()
        strides = [1]
        for size in reversed(grid_shape[1:]):
            strides.insert(0, strides[0] * size)
        self.register_buffer("strides", torch.tensor(strides, dtype=torch.float32))
        self.num_cells = int(torch.tensor(grid_shape).prod())
        self.net = mlp(latent_dim, hiddens, self.num_cells, "relu")

    def cell_index(self, state: torch.Tensor) -> torch.Tensor:
        """Grid coordinates [..., len(grid_shape)] -> flat cell index [...]."""
        return (state * self.strides).sum(-1).round().long().clamp(0, self.num_cells - 1)

    def forward(self, latent: torch.Tensor, next_state: torch.Tensor) -> torch.Tensor:
        """``latent`` [B, Tb, D], ``next_state`` [B, Tk, S] -> outputs [B, Tb, Tk, 1]."""
        cell_outputs = self.net(latent)  # [B, Tb, cells]
        index = self.cell_index(next_state).unsqueeze(1).expand(-1, latent.shape[1], -1)
        return torch.gather(cell_outputs, 2, index).unsqueeze(-1)
