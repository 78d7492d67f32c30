"""``gru_through_time``: nn.GRU's outputs and gradients, computed with a written-out
backward pass (rllib_dynamite/models/gru.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rllib_dynamite.models.gru import _GRUThroughTime, gru_through_time


def _loss(hidden: torch.Tensor, final: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    # Every step's output and the final state enter, with different weights per unit.
    return (hidden * weights).sum() + (final * weights[:, -1]).pow(2).sum()


@pytest.mark.parametrize("batch, steps", [(1, 201), (4, 17), (3, 1)])
def test_outputs_and_gradients_equal_nn_gru(batch, steps):
    torch.manual_seed(batch * 100 + steps)
    gru = nn.GRU(6, 8, batch_first=True)
    inputs = torch.randn(batch, steps, 6, requires_grad=True)
    state = torch.randn(batch, 8, requires_grad=True)
    weights = torch.randn(batch, steps, 8)

    expected_hidden, expected_final = gru(inputs, state.unsqueeze(0))
    _loss(expected_hidden, expected_final.squeeze(0), weights).backward()
    expected = [t.grad.clone() for t in (inputs, state, *gru.parameters())]
    for tensor in (inputs, state, *gru.parameters()):
        tensor.grad = None

    hidden, final = gru_through_time(gru, inputs, state)
    _loss(hidden, final, weights).backward()
    torch.testing.assert_close(hidden, expected_hidden)
    torch.testing.assert_close(final, expected_final.squeeze(0))
    for name, want, tensor in zip(
        ["inputs", "state", "w_ih", "w_hh", "b_ih", "b_hh"],
        expected,
        (inputs, state, *gru.parameters()),
        strict=True,
    ):
        torch.testing.assert_close(tensor.grad, want, msg=f"gradient of {name}")


def test_backward_passes_gradcheck_in_double_precision():
    torch.manual_seed(0)
    args = [
        torch.randn(2, 5, 3),  # x
        torch.randn(2, 4),  # h0
        torch.randn(12, 3),  # w_ih
        torch.randn(12, 4),  # w_hh
        torch.randn(12),  # b_ih
        torch.randn(12),  # b_hh
    ]
    args = [a.double().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(_GRUThroughTime.apply, args)


def test_without_autograd_it_is_nn_gru_itself():
    gru = nn.GRU(3, 4, batch_first=True)
    inputs, state = torch.randn(2, 7, 3), torch.randn(2, 4)
    with torch.no_grad():
        hidden, final = gru_through_time(gru, inputs, state)
        expected_hidden, expected_final = gru(inputs, state.unsqueeze(0))
    assert torch.equal(hidden, expected_hidden)
    assert torch.equal(final, expected_final.squeeze(0))
