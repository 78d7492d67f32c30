"""A GRU pass through time whose backward pass is written out (docs/benchmarks.md,
"Third round: the GRU's pass through time").

On a CPU, ``nn.GRU`` records a dozen autograd nodes per time step, and its backward
pass walks them one by one: for RL²'s PPO minibatch of one HalfCheetahVel episode
(201 steps, batch 1) that bookkeeping, not arithmetic, is most of the time. Here the
input projections of all steps are one matrix product, the forward loop records nothing,
and the backward loop does per step only what must be sequential (the hidden-state
gradient through ``W_hh``); the weight gradients are one matrix product each at the end.
The result is ``nn.GRU``'s to float rounding (``tests/test_rl_module.py``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable


class _GRUThroughTime(torch.autograd.Function):
    """One GRU layer over ``x`` [B, T, I] from ``h0`` [B, G] -> hidden states [B, T, G],
    with torch's gate layout (``r, z, n``) and equations."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        h0: torch.Tensor,
        w_ih: torch.Tensor,
        w_hh: torch.Tensor,
        b_ih: torch.Tensor,
        b_hh: torch.Tensor,
    ) -> torch.Tensor:
        batch, steps, _ = x.shape
        size = h0.shape[-1]
        gates_in = torch.addmm(b_ih, x.reshape(batch * steps, -1), w_ih.t())
        gates_in = gates_in.view(batch, steps, 3 * size).transpose(0, 1)
        gates_in_rz = gates_in[..., : 2 * size].unbind(0)
        gates_in_n = gates_in[..., 2 * size :].unbind(0)
        w_hh_t = w_hh.t()
        h = h0
        hidden, reset_update, candidate, gates_hidden_n = [], [], [], []
        for t in range(steps):
            gates_h = torch.addmm(b_hh, h, w_hh_t)
            rz = torch.sigmoid(gates_in_rz[t] + gates_h[:, : 2 * size])
            h_n = gates_h[:, 2 * size :]
            n = torch.tanh(torch.addcmul(gates_in_n[t], rz[:, :size], h_n))
            h = torch.lerp(n, h, rz[:, size:])  # (1 - z) n + z h
            hidden.append(h)
            reset_update.append(rz)
            candidate.append(n)
            gates_hidden_n.append(h_n)
        hidden = torch.stack(hidden, 1)
        ctx.save_for_backward(
            x,
            h0,
            w_ih,
            w_hh,
            hidden,
            torch.stack(reset_update, 1),
            torch.stack(candidate, 1),
            torch.stack(gates_hidden_n, 1),
        )
        return hidden

    @staticmethod
    @once_differentiable
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_hidden: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x, h0, w_ih, w_hh, hidden, rz, n, h_n = ctx.saved_tensors
        batch, steps, size = hidden.shape
        r, z = rz[..., :size], rz[..., size:]
        h_prev = torch.cat([h0.unsqueeze(1), hidden[:, :-1]], 1)
        # What each step multiplies its hidden-state gradient by, for all steps at once.
        to_n = (1 - z) * (1 - n * n)  # dL/dh_t -> dL/d(n's pre-activation)
        to_z = (h_prev - n) * z * (1 - z)  # dL/dh_t -> dL/d(z's pre-activation)
        to_r = h_n * r * (1 - r)  # dL/d(n's pre-activation) -> dL/d(r's pre-activation)
        columns = [c.unbind(1) for c in (grad_hidden, to_n, to_z, to_r, r, z)]
        grad_h = torch.zeros_like(h0)
        grad_gates_h: list[torch.Tensor] = [grad_h] * steps
        grad_n: list[torch.Tensor] = [grad_h] * steps
        for t in range(steps - 1, -1, -1):
            grad_h = grad_h + columns[0][t]
            dn = grad_h * columns[1][t]
            dgh = torch.cat([dn * columns[3][t], grad_h * columns[2][t], dn * columns[4][t]], 1)
            grad_h = torch.addmm(grad_h * columns[5][t], dgh, w_hh)
            grad_gates_h[t], grad_n[t] = dgh, dn
        grad_gh = torch.stack(grad_gates_h, 1)
        grad_gi = torch.cat([grad_gh[..., : 2 * size], torch.stack(grad_n, 1)], -1)
        grad_gi = grad_gi.reshape(batch * steps, -1)
        grad_gh = grad_gh.reshape(batch * steps, -1)
        needs = ctx.needs_input_grad
        return (
            (grad_gi @ w_ih).view_as(x) if needs[0] else None,
            grad_h if needs[1] else None,
            grad_gi.t() @ x.reshape(batch * steps, -1) if needs[2] else None,
            grad_gh.t() @ h_prev.reshape(batch * steps, -1) if needs[3] else None,
            grad_gi.sum(0) if needs[4] else None,
            grad_gh.sum(0) if needs[5] else None,
        )


def gru_through_time(
    gru: nn.GRU, inputs: torch.Tensor, state: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``gru`` (one layer, ``batch_first``) over ``inputs`` [B, T, I] from ``state``
    [B, G]: ``(hidden [B, T, G], final state [B, G])``.

    With autograd recording on a CPU, the pass above; otherwise (no gradient wanted, or
    on a GPU, where cuDNN fuses the whole pass) ``nn.GRU`` itself.
    """
    if not torch.is_grad_enabled() or inputs.is_cuda:
        hidden, final_state = gru(inputs, state.unsqueeze(0))
        return hidden, final_state.squeeze(0)
    hidden = _GRUThroughTime.apply(
        inputs, state, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
    )
    return hidden, hidden[:, -1]
