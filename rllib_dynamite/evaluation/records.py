"""One evaluation episode as arrays: what the metrics and the belief pictures read.

:mod:`~rllib_dynamite.evaluation.rollout` records episodes through RLlib and hands them
to :mod:`~rllib_dynamite.evaluation.figures`; the record lives here, so that the
pictures read it without importing the evaluator that draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EpisodeRecord:
    """One evaluation episode of ``T`` transitions; index ``t`` is transition ``x_t``.

    ``states``: [T+1, S] the env's observations ``s_0 … s_T``; ``rewards``,
    ``session_ids``: [T]; ``latents``: [T, L] the latent that produced ``x_t``;
    ``successes``: [T] bool, whether ``x_t`` collected what its latent makes achievable
    (:mod:`~rllib_dynamite.evaluation.adaptation`; ``None`` for an env without a rule);
    ``belief_mean``/``belief_logvar``: [T+1, D] beliefs ``b_{-1} … b_{T-1}`` (row
    ``t+1`` is the belief after ``x_t``), ``termination_logits``: [T]; these three
    are ``None`` for policies without a trained belief model or termination head.
    ``info_metrics``: the episode's value of each metric its env declares in
    ``metadata["evaluation_metrics"]`` (empty if none).
    """

    states: np.ndarray
    rewards: np.ndarray
    session_ids: np.ndarray
    latents: np.ndarray
    successes: np.ndarray | None = None
    belief_mean: np.ndarray | None = None
    belief_logvar: np.ndarray | None = None
    termination_logits: np.ndarray | None = None
    info_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())
