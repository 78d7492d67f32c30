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


def session_returns(rewards: np.ndarray, session_ids: np.ndarray) -> np.ndarray:
    """Return (sum of rewards) of each session of the episode, in order."""
    starts = np.concatenate([[0], switch_steps(session_ids), [len(rewards)]])
    return np.array([rewards[a:b].sum() for a, b in zip(starts[:-1], starts[1:], strict=True)])


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
