"""Does a trained policy gain from reading its belief, or lose? For memory trials
(``dynamite``, ``varibad``, their ablations, and ``rl2``) of ``rllib-dynamite tune`` on any env.

Each trial's final checkpoint plays the same greedy episodes (``Evaluator``, seeded)
four ways, changing only what the policy reads in place of the belief (``rl2``, whose
policy reads the GRU's output rather than a belief: the first and last only):

- ``own``: its own belief, as trained;
- ``blind``: the normalised belief held at 0, i.e. the running mean belief of training,
  the same input at every step of every episode (the policy as a memoryless one);
- ``shuffled``: at every step, the normalised belief of a random step of another
  episode of the ``own`` run (beliefs of the right distribution, carrying nothing about
  this episode);
- ``reward_zeroed``: the reward ``r_t`` the GRU reads set to 0 at every step (the
  module's ``belief_reward_scale`` set to 0 on the acting module), so the memory sees
  states and actions only.

``own`` above ``blind`` and ``shuffled``: the belief helps. ``blind`` above ``own``: what
the belief carries hurts the policy more than it informs it. It also reports what the
policy reads on the ``own`` episodes: the normalised belief's spread within an episode
and across episodes (mean over dimensions of the std), the share of its entries at the
normaliser's clip, and how far the greedy action moves when the belief is blanked on the
same states (RMS of the action-mean change, over the RMS of the action mean).

    .venv/bin/python scripts/belief_use.py results/scratch_itch_local-dynamite-varibad-seeds-0 \\
        --episodes 25
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.evaluation.checkpoints import find_checkpoint, trials_parser
from rllib_dynamite.trials import load_trials

MODES = ("own", "blind", "shuffled", "reward_zeroed")


class _Replaced(nn.Module):
    """Stands in for the EnvRunner module's ``belief_normaliser``: returns zeros
    (``blind``) or random rows of ``pool`` (``shuffled``), whatever the belief."""

    def __init__(self, pool: torch.Tensor | None, seed: int) -> None:
        super().__init__()
        self.pool = pool
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, belief: torch.Tensor) -> torch.Tensor:
        if self.pool is None:
            return torch.zeros_like(belief)
        rows = torch.randint(len(self.pool), belief.shape[:-1], generator=self.generator)
        return self.pool[rows]


def normalised(module: Any, episode: Any) -> np.ndarray:
    """The policy's belief input on an episode's steps: [T+1, 2D]."""
    belief = np.concatenate([episode.belief_mean, episode.belief_logvar], axis=-1)
    with torch.no_grad():
        return module.belief_normalizer(torch.as_tensor(belief, dtype=torch.float32)).numpy()


def action_shift(module: Any, episodes: list[Any]) -> float:
    """RMS change of the greedy action's mean when the belief input is blanked, over the
    RMS of the action mean, on the ``own`` episodes' states."""
    shifts, scales = [], []
    for episode in episodes:
        states = torch.as_tensor(episode.states, dtype=torch.float32)
        z = torch.as_tensor(normalised(module, episode), dtype=torch.float32)
        with torch.no_grad():
            own = module.pi_head(module.pi(torch.cat([states, z], dim=-1)))
            blind = module.pi_head(module.pi(torch.cat([states, torch.zeros_like(z)], dim=-1)))
        if not module.discrete:
            # RLlib unsquashes actions from [-1, 1], clipping there first: compare in range.
            own, blind = own.clamp(-1.0, 1.0), blind.clamp(-1.0, 1.0)
        shifts.append(((own - blind) ** 2).mean().item())
        scales.append((own**2).mean().item())
    return float(np.sqrt(np.mean(shifts)) / max(np.sqrt(np.mean(scales)), 1e-8))


def probe(checkpoint: Path, episodes: int, seed: int, belief: bool) -> dict[str, float]:
    """The modes' returns and, for a belief policy (``belief``), the belief's statistics."""
    evaluator = Evaluator.from_checkpoint(checkpoint, seed=seed)
    runner_module = evaluator._runner.module
    row: dict[str, float] = dict.fromkeys(MODES, float("nan"))
    try:
        report = evaluator.evaluate(episodes, with_figure=False)
        row["own"] = float(report.metrics["episode_return_mean"])
        reward_scale, runner_module.reward_scale = runner_module.reward_scale, 0.0
        row["reward_zeroed"] = float(
            evaluator.evaluate(episodes, with_figure=False).metrics["episode_return_mean"]
        )
        runner_module.reward_scale = reward_scale
        if not belief:
            return row
        normaliser = runner_module.belief_normalizer
        own = report.episodes
        inputs = [normalised(evaluator.module, e) for e in own]
        pool = torch.as_tensor(np.concatenate(inputs), dtype=torch.float32)
        for mode, replacement in (("blind", None), ("shuffled", pool)):
            runner_module.belief_normalizer = _Replaced(replacement, seed)
            row[mode] = float(
                evaluator.evaluate(episodes, with_figure=False).metrics["episode_return_mean"]
            )
        runner_module.belief_normalizer = normaliser
        stacked = np.stack([z.mean(0) for z in inputs])
        row["within_std"] = float(np.mean([z.std(0).mean() for z in inputs]))
        row["across_std"] = float(stacked.std(0).mean())
        row["clipped"] = float(np.mean(np.abs(np.concatenate(inputs)) >= normaliser.clip - 1e-6))
        row["action_shift"] = action_shift(evaluator.module, own)
        row["readout_r2"] = float(report.metrics.get("belief_readout_r2", float("nan")))
    finally:
        evaluator.stop()
    return row


def main(argv: list[str] | None = None) -> None:
    parser = trials_parser(__doc__)
    args = parser.parse_args(argv)
    header = ["trial", *MODES, "within_std", "across_std", "clipped", "action_shift", "readout_r2"]
    print(" | ".join(header))
    for trial in load_trials(args.results):
        if trial.config["preset"] in ("oracle", "markov_ppo"):
            continue
        belief = trial.config["preset"] != "rl2"
        row = probe(find_checkpoint(trial.path), args.episodes, args.seed, belief)
        cells = [f"{row.get(k, float('nan')):.3f}".replace("nan", "–") for k in header[1:]]
        print(" | ".join([trial.path.name, *cells]), flush=True)


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as error:  # a missing directory or checkpoint
        raise SystemExit(f"error: {error}") from None
