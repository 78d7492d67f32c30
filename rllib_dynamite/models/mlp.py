"""A plain multi-layer perceptron builder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
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


def init_output_layer(layer: nn.Linear, gain: float) -> None:
    """Orthogonal weights of norm ``gain`` and zero bias (CleanRL's and Stable-Baselines3's
    policy output: gain 0.01); ``gain`` 0 keeps PyTorch's default initialisation."""
    if gain > 0:
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.zeros_(layer.bias)


def output_dim(input_dim: int, hiddens: Sequence[int]) -> int:
    """Width of what ``mlp(input_dim, hiddens)`` returns (no output layer)."""
    return hiddens[-1] if hiddens else input_dim


class RunningNormalizer(nn.Module):
    """Running mean/variance of a feature vector; normalises to about zero mean, unit
    variance, clipped to ±``clip``.

    The statistics are buffers, so they travel with the weights to EnvRunners and into
    checkpoints. VariBAD normalises the policy's belief input the same way: the belief
    narrows as the model trains, and raw log-variances saturate a tanh policy.

    With ``window`` > 0 the statistics forget: once they hold ``window`` samples, each
    new batch of ``n`` takes weight ``n / window`` (an exponential moving average), so
    they follow a belief whose scale drifts while the belief model trains instead of
    keeping its early spread (docs/results.md, "Beliefs that act").
    """

    def __init__(self, dim: int, clip: float = 5.0, epsilon: float = 1e-4, window: int = 0) -> None:
        super().__init__()
        self.clip = clip
        self.window = int(window)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.tensor(epsilon))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch of samples [N, dim] into the statistics (parallel Welford)."""
        if x.shape[0] == 0:
            return
        batch_mean, batch_var, batch_count = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * batch_count / total
        self.var.copy_(
            (
                self.var * self.count
                + batch_var * batch_count
                + delta**2 * self.count * batch_count / total
            )
            / total
        )
        self.count.copy_(torch.clamp(total, max=self.window) if self.window else total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[..., dim] -> normalised [..., dim]."""
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-self.clip, self.clip)
