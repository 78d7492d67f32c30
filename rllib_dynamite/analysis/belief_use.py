"""Does a trained policy gain from reading its belief, or lose? For memory trials
(``dynamite``, ``varibad``, their ablations, and ``rl2``) of ``rllib-dynamite tune`` on
any env (``rllib-dynamite diagnose belief-use``).

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
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rllib_dynamite.analysis.playback import TrialRow, play_trials, print_rows
from rllib_dynamite.evaluation import EpisodeRecord, EvaluationReport, Evaluator
from rllib_dynamite.trials import Trial

MODES = ("own", "blind", "shuffled", "reward_zeroed")
COLUMNS = [*MODES, "within_std", "across_std", "clipped", "action_shift", "readout_r2"]
# Presets without a memory: nothing to take away from them.
MEMORYLESS = ("oracle", "markov_ppo")


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


def normalised(module: Any, episode: EpisodeRecord) -> np.ndarray:
    """The policy's belief input on an episode's steps: [T+1, 2D]."""
    belief = np.concatenate([episode.belief_mean, episode.belief_logvar], axis=-1)
    with torch.no_grad():
        return module.belief_normalizer(torch.as_tensor(belief, dtype=torch.float32)).numpy()


def action_shift(module: Any, episodes: list[EpisodeRecord]) -> float:
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


def belief_use(
    evaluator: Evaluator, report: EvaluationReport, episodes: int, seed: int, belief: bool
) -> dict[str, float]:
    """The modes' returns and, for a belief policy (``belief``), the belief's statistics;
    ``report`` is the evaluator's greedy evaluation of ``episodes`` episodes (``own``)."""
    runner_module = evaluator._runner.module
    row: dict[str, float] = dict.fromkeys(MODES, float("nan"))
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
    return row


def print_belief_use(
    results: Iterable[str | Path], episodes: int = 25, seed: int = 0
) -> list[TrialRow]:
    """Print :func:`belief_use`'s row for every memory trial under ``results``, on
    ``episodes`` greedy episodes seeded by ``seed`` (``–``: not measured)."""

    def measure(trial: Trial, evaluator: Evaluator, report: EvaluationReport) -> dict[str, float]:
        return belief_use(evaluator, report, episodes, seed, trial.config["preset"] != "rl2")

    rows = play_trials(
        results, measure, episodes, seed, keep=lambda t: t.config["preset"] not in MEMORYLESS
    )
    return print_rows(rows, COLUMNS, lambda value: f"{value:.3f}".replace("nan", "–"))
