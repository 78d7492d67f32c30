"""A plain multi-layer perceptron builder."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(
    input_dim: int,
    hiddens: Sequence[int],
    output_dim: int | None = None,
    activation: str = "tanh",
) -> nn.Sequential:
    """Linear layers of sizes ``hiddens`` with ``activation`` after each, then an
    optional linear output layer of size ``output_dim`` (no activation)."""
    layers: list[nn.Module] = []
    size = input_dim
    for hidden in hiddens:
        layers += [nn.Linear(size, hidden), ACTIVATIONS[activation]()]
        size = hidden
    if output_dim is not None:
        layers.append(nn.Linear(size, output_dim))
    return nn.Sequential(*layers)


def output_dim(input_dim: int, hiddens: Sequence[int]) -> int:
    """Width of what ``mlp(input_dim, hiddens)`` returns (no output layer)."""
    return hiddens[-1] if hiddens else input_dim
