"""Evaluation metrics of DLCMDP episodes: pure functions of numpy arrays (docs/usage.md).

Every function takes one episode's per-transition arrays, where index ``t`` is
transition ``x_t`` (method.md §1): ``rewards[t] = r_{t+1}``, ``session_ids[t] = σ(t)``,
``successes[t]``: whether ``x_t`` collected what its latent makes achievable (the env's
rule, :mod:`rllib_dynamite.evaluation.adaptation`). A *switch* is a step ``t ≥ 1`` with
``σ(t) ≠ σ(t-1)``: the first step under a new latent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

# How an env's declared metric reduces one info value per step to one per episode.
INFO_REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max}
# A termination prediction this many steps after a true boundary still counts (the
# head can only notice a switch once a transition contradicts the belief).
TERMINATION_TOLERANCE = 5
SESSION_INDICES_REPORTED = 5


def switch_steps(session_ids: np.ndarray) -> np.ndarray:
    """Indices ``t ≥ 1`` where a new session starts."""
    session_ids = np.asarray(session_ids)
    return np.flatnonzero(session_ids[1:] != session_ids[:-1]) + 1


def session_steps(session_ids: np.ndarray) -> list[np.ndarray]:
    """The step indices of each session of the episode, in order."""
    bounds = np.concatenate([[0], switch_steps(session_ids), [len(session_ids)]])
    return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def later_sessions(session_ids: np.ndarray) -> list[np.ndarray]:
    """The step indices of each session after the first, in order."""
    return session_steps(session_ids)[1:]


def session_returns(rewards: np.ndarray, session_ids: np.ndarray) -> np.ndarray:
    """Return (sum of rewards) of each session of the episode, in order."""
    return np.array([rewards[steps].sum() for steps in session_steps(session_ids)])


def steps_to_adapt(successes: np.ndarray, session_ids: np.ndarray) -> list[int | None]:
    """For each switch, the steps until the agent first succeeds under the new latent.

    The count is the number of steps after the switch before the first successful
    step of the new session (0: the first step under the new latent succeeds). ``None``
    when the new session ends first: the switch is censored, not adapted. How well the
    agent did before the switch plays no part, so an agent that never succeeds never
    adapts.
    """
    successes = np.asarray(successes, dtype=bool)
    switches = switch_steps(session_ids)
    ends = np.concatenate([switches, [len(successes)]])[1:]
    counts: list[int | None] = []
    for start, end in zip(switches, ends, strict=True):
        reached = np.flatnonzero(successes[start:end])
        counts.append(int(reached[0]) if reached.size else None)
    return counts


@dataclass
class BoundaryCounts:
    """Termination-head predictions against the true session boundaries."""

    true_boundaries: int = 0
    predicted: int = 0
    true_positive: int = 0  # predicted exactly at a true boundary
    detected_within: int = 0  # true boundaries with a prediction ≤ tolerance steps after
    predicted_within: int = 0  # predictions ≤ tolerance steps after a true boundary

    def add(self, logits: np.ndarray, session_ids: np.ndarray, tolerance: int) -> None:
        """Count one episode. ``logits`` [T] is the head's logit for ``x_t`` starting a
        session; a logit > 0 predicts a boundary. Step 0 is never scored."""
        truth = switch_steps(session_ids)
        predicted = np.flatnonzero(np.asarray(logits)[1:] > 0.0) + 1
        self.true_boundaries += truth.size
        self.predicted += predicted.size
        self.true_positive += np.intersect1d(truth, predicted).size
        gaps = predicted[None, :] - truth[:, None]  # [true, predicted]
        close = (gaps >= 0) & (gaps <= tolerance)
        self.detected_within += int(close.any(axis=1).sum())
        self.predicted_within += int(close.any(axis=0).sum())

    def summary(self, tolerance: int) -> dict[str, float]:
        """Precision/recall/F1, exact and within ``tolerance`` steps (0 where undefined)."""
        precision = _ratio(self.true_positive, self.predicted)
        recall = _ratio(self.true_positive, self.true_boundaries)
        return {
            "termination_precision": precision,
            "termination_recall": recall,
            "termination_f1": _ratio(2 * precision * recall, precision + recall),
            f"termination_precision_within_{tolerance}": _ratio(
                self.predicted_within, self.predicted
            ),
            f"termination_recall_within_{tolerance}": _ratio(
                self.detected_within, self.true_boundaries
            ),
        }


def linear_readout(
    belief_means: np.ndarray, latents: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares map from belief means [N, D] to true latents [N, L].

    Returns ``(weights [D+1, L], decoded [N, L], r2)``: ``r2`` is the coefficient of
    determination averaged over latent dimensions that vary (NaN if none does). The
    fit is in-sample: it measures how linearly decodable the latent is from the belief.
    """
    features = np.concatenate([belief_means, np.ones((len(belief_means), 1))], axis=1)
    weights, *_ = np.linalg.lstsq(features, latents, rcond=None)
    decoded = features @ weights
    total = ((latents - latents.mean(axis=0)) ** 2).sum(axis=0)
    residual = ((latents - decoded) ** 2).sum(axis=0)
    varying = total > 1e-12
    r2 = float(np.mean(1.0 - residual[varying] / total[varying])) if varying.any() else np.nan
    return weights, decoded, r2


def detection_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` telling ``labels`` (bool) apart: the chance
    that a positive step scores above a negative one (ties count half; Mann–Whitney U).
    0.5 is no better than chance; NaN without both classes. Threshold-free, unlike the
    termination head's F1 at logit 0."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    u = ranks[labels].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def switch_detection(
    rewards: Sequence[np.ndarray],
    session_ids: Sequence[np.ndarray],
    termination_logits: Sequence[np.ndarray] | None = None,
) -> dict[str, float]:
    """How visible a switch is at the step it happens, over episodes' steps ``t ≥ 1``.

    ``switch_auc_reward``: the AUC of the reward's jump ``|r_{t+1} − r_t|`` as a switch
    detector (what one step of the reward shows of a new latent: the exact-step target
    the termination loss sets). ``switch_auc_head``: the termination head's logit's AUC
    (NaN without ``termination_logits``).
    """
    jumps, labels, logits = [], [], []
    for index, (reward, sessions) in enumerate(zip(rewards, session_ids, strict=True)):
        jumps.append(np.abs(np.diff(reward)))
        labels.append(sessions[1:] != sessions[:-1])
        if termination_logits is not None:
            logits.append(termination_logits[index][1:])
    labels_all = np.concatenate(labels)
    return {
        "switch_auc_reward": detection_auc(np.concatenate(jumps), labels_all),
        "switch_auc_head": (
            detection_auc(np.concatenate(logits), labels_all) if logits else float("nan")
        ),
    }


def follows_switch(
    beliefs: Sequence[np.ndarray],
    latents: Sequence[np.ndarray],
    session_ids: Sequence[np.ndarray],
    settle: int = 20,
) -> dict[str, float]:
    """Does the belief follow a switch, stay on the old latent, or average the two?

    Per episode: ``beliefs`` [T, D] (the belief after each transition), ``latents``
    [T, L], ``session_ids`` [T]. The linear read-out fitted on every episode's first
    session decodes the steps of the later sessions; that decoded latent is regressed on
    the session's latent and the previous session's, per latent dimension, over the first
    ``settle`` steps after a switch (``early``) and the rest (``settled``). Returns
    ``new_weight_early``, ``old_weight_early``, ``new_weight_settled``,
    ``old_weight_settled``, averaged over dimensions that vary: (1, 0) follows the
    switch, (0, 1) holds the old latent; NaN where there are no such steps.
    """
    first, first_latent, later, new, old, early = [], [], [], [], [], []
    for belief, latent, sessions in zip(beliefs, latents, session_ids, strict=True):
        first.append(belief[sessions == sessions[0]])
        first_latent.append(latent[sessions == sessions[0]])
        for steps in later_sessions(sessions):
            later.append(belief[steps])
            new.append(latent[steps])
            old.append(np.repeat(latent[steps[0] - 1 : steps[0]], len(steps), axis=0))
            early.append(np.arange(len(steps)) < settle)
    row = dict.fromkeys(
        ("new_weight_early", "old_weight_early", "new_weight_settled", "old_weight_settled"),
        float("nan"),
    )
    if not later:
        return row
    readout, _, _ = linear_readout(np.concatenate(first), np.concatenate(first_latent))
    later_beliefs = np.concatenate(later)
    decoded = np.concatenate([later_beliefs, np.ones((len(later_beliefs), 1))], axis=1) @ readout
    new_all, old_all, early_all = np.concatenate(new), np.concatenate(old), np.concatenate(early)
    for part, rows in (("early", early_all), ("settled", ~early_all)):
        weights = []
        for d in range(decoded.shape[1]):
            x_new, x_old = new_all[rows, d], old_all[rows, d]
            if rows.sum() < 3 or x_new.std() < 1e-9 or x_old.std() < 1e-9:
                continue
            features = np.stack([x_new, x_old, np.ones(len(x_new))], axis=1)
            weights.append(np.linalg.lstsq(features, decoded[rows, d], rcond=None)[0][:2])
        if weights:
            row[f"new_weight_{part}"], row[f"old_weight_{part}"] = map(
                float, np.mean(weights, axis=0)
            )
    return row


def summarize_returns(
    returns: Sequence[float],
    rewards: Sequence[np.ndarray],
    session_ids: Sequence[np.ndarray],
    successes: Sequence[np.ndarray | None] | None = None,
) -> dict[str, float | list[float]]:
    """Return metrics over episodes: per episode, per session and steps to adapt.

    ``adapted_fraction`` is the share of switches adapted before their session ended
    (NaN without switches), ``steps_to_adapt_mean`` the mean count over those (NaN if
    none); both are NaN without ``successes`` for every episode (an env with no rule).
    """
    per_session = [session_returns(r, s) for r, s in zip(rewards, session_ids, strict=True)]
    all_sessions = np.concatenate(per_session)
    switches = sum(len(switch_steps(s)) for s in session_ids)
    if successes is None or any(s is None for s in successes):
        steps_mean, fraction = float("nan"), float("nan")
    else:
        adapt = [
            c for w, s in zip(successes, session_ids, strict=True) for c in steps_to_adapt(w, s)
        ]
        adapted = [c for c in adapt if c is not None]
        steps_mean = float(np.mean(adapted)) if adapted else float("nan")
        fraction = len(adapted) / len(adapt) if adapt else float("nan")
    metrics: dict[str, float | list[float]] = {
        "episode_return_mean": float(np.mean(returns)),
        "episode_return_std": float(np.std(returns)),
        "episode_returns": [float(r) for r in returns],
        "session_return_mean": float(all_sessions.mean()),
        "sessions_per_episode_mean": float(np.mean([len(s) for s in per_session])),
        "switches": switches,
        "steps_to_adapt_mean": steps_mean,
        "adapted_fraction": fraction,
    }
    for index in range(SESSION_INDICES_REPORTED):
        values = [s[index] for s in per_session if len(s) > index]
        if values:
            metrics[f"session_{index}_return_mean"] = float(np.mean(values))
    return metrics


def episode_info_metrics(
    infos: Sequence[Mapping[str, Any]], declared: Mapping[str, tuple[str, str]]
) -> dict[str, float]:
    """One episode's value of each metric an env declares over its step ``info``.

    ``infos``: [T] the ``info`` of each transition. ``declared``: ``{metric: (info key,
    reduction)}``, the reduction over the episode's steps one of :data:`INFO_REDUCTIONS`
    (a bool counts as 0 or 1), e.g. ``{"scratches_per_episode": ("scratch", "sum")}``.

    Raises:
        ValueError: an unknown reduction, or a step whose ``info`` lacks the key.
    """
    values = {}
    for name, (key, reduction) in declared.items():
        if reduction not in INFO_REDUCTIONS:
            raise ValueError(
                f"evaluation metric {name!r}: reduction must be one of "
                f"{list(INFO_REDUCTIONS)}, got {reduction!r}"
            )
        missing = [t for t, info in enumerate(infos) if key not in info]
        if missing:
            raise ValueError(
                f"evaluation metric {name!r} reads info[{key!r}], which step {missing[0]} lacks"
            )
        steps = np.array([float(info[key]) for info in infos])
        values[name] = float(INFO_REDUCTIONS[reduction](steps))
    return values


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0
