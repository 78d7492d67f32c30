"""Online evaluation of an offline-trained policy, with the same metrics as
``rllib-dynamite evaluate`` (:mod:`rllib_dynamite.evaluation`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rllib_dynamite.evaluation import EpisodeRecord, EvaluationReport, Evaluator
from rllib_dynamite.offline.belief_env import BELIEF_LOGVAR, BELIEF_MEAN, TERMINATION_LOGIT


class OfflinePolicyEvaluator(Evaluator):
    """:class:`~rllib_dynamite.evaluation.Evaluator` for a policy trained by an RLlib
    offline learner. In a :class:`~rllib_dynamite.offline.belief_env.BeliefObservationEnv`
    the beliefs and termination logits come from the env's ``info``, so the belief
    metrics (termination precision/recall, latent read-out) are reported as online.
    """

    def _record(self, episode: Any) -> EpisodeRecord:
        record = super()._record(episode)
        infos = episode.get_infos()  # infos[0]: b_{-1}; infos[t + 1]: after x_t
        if BELIEF_MEAN not in infos[0]:
            return record
        belief_dim = 2 * len(infos[0][BELIEF_MEAN])
        record.states = record.states[:, :-belief_dim]  # the env's own observation
        record.belief_mean = np.stack([np.asarray(i[BELIEF_MEAN], np.float64) for i in infos])
        record.belief_logvar = np.stack([np.asarray(i[BELIEF_LOGVAR], np.float64) for i in infos])
        if self.settings.termination_head:
            record.termination_logits = np.array([i[TERMINATION_LOGIT] for i in infos[1:]])
        return record


def evaluate_policy(
    config: Any, module_state: dict[str, Any], num_episodes: int, seed: int | None
) -> EvaluationReport:
    """``num_episodes`` greedy episodes of the policy with weights ``module_state`` in the
    env of ``config``; the report's metrics are those of ``rllib-dynamite evaluate``."""
    evaluator = OfflinePolicyEvaluator(config, seed=seed)
    try:
        evaluator.set_module_state(module_state)
        return evaluator.evaluate(num_episodes, with_figure=False)
    finally:
        evaluator.stop()
