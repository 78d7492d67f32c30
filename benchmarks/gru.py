"""The GRU's pass through time alone: ``nn.GRU`` against ``gru_through_time``.

At the shapes the learner runs (RL²'s PPO minibatch on HalfCheetahVel: 1 episode × 201
steps; the belief model's update there: 10 × 201; Reacher's RL² minibatch: 4 × 201;
PaperGridNavi's belief-model update: 25 × 61), on one torch thread as in a Ray actor,
prints the milliseconds of ``nn.GRU``'s forward without autograd, its forward with
autograd, its forward and backward, and ``gru_through_time``'s forward and backward,
the two taking turns, best block of each.

    .venv/bin/python benchmarks/gru.py [--blocks 5] [--repeats 10]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from rllib_dynamite.models.gru import gru_through_time

# (what, batch, steps, input size, GRU size): the encoder's shapes at each env's defaults.
SHAPES = (
    ("HalfCheetahVel rl2 minibatch", 1, 201, 64, 128),
    ("HalfCheetahVel belief-model update", 10, 201, 64, 128),
    ("Reacher rl2 minibatch", 4, 201, 64, 128),
    ("PaperGridNavi belief-model update", 25, 61, 16, 64),
)


def _milliseconds(run: Callable[[], None], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats * 1e3


def _best_times(
    batch: int, steps: int, inputs_dim: int, size: int, blocks: int, repeats: int
) -> dict[str, float]:
    gru = nn.GRU(inputs_dim, size, batch_first=True)
    inputs = torch.randn(batch, steps, inputs_dim, requires_grad=True)
    state = torch.zeros(batch, size)

    def no_grad() -> None:
        with torch.no_grad():
            gru(inputs, state.unsqueeze(0))

    def forward() -> None:
        gru(inputs, state.unsqueeze(0))

    def nn_backward() -> None:
        hidden, _ = gru(inputs, state.unsqueeze(0))
        hidden.sum().backward()

    def written_out() -> None:
        hidden, _ = gru_through_time(gru, inputs, state)
        hidden.sum().backward()

    runs = {"no_grad": no_grad, "forward": forward, "nn": nn_backward, "ours": written_out}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(blocks):
        for name, run in runs.items():
            best[name] = min(best[name], _milliseconds(run, repeats))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print("| shape | nn.GRU forward, no autograd | forward | forward + backward "
          "| gru_through_time forward + backward | ratio |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for what, batch, steps, inputs_dim, size in SHAPES:
        best = _best_times(batch, steps, inputs_dim, size, args.blocks, args.repeats)
        print(
            f"| {what} ({batch} × {steps}) | {best['no_grad']:.1f} | {best['forward']:.1f} "
            f"| {best['nn']:.1f} | {best['ours']:.1f} | {best['ours'] / best['nn']:.2f}× |"
        )


if __name__ == "__main__":
    main()
