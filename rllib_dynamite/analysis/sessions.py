"""Does the belief hold the latent after a session switch as well as in the first
session? For belief trials (``dynamite``, ``varibad`` and the ablations) of
``rllib-dynamite tune``, on any env (``rllib-dynamite diagnose beliefs``).

Each trial's final checkpoint plays the same greedy episodes (``Evaluator``, seeded). A
least-squares read-out of the latent from the belief mean is fitted, and scored (R²)
separately on the steps of each episode's first session and on those of every later
session, each group fitted on its own; the later sessions also split into their first
``SETTLE`` steps and the rest (a belief slow to follow a switch recovers in the rest).
On HalfCheetahVel (``velocity``) it also fits, on the later sessions, a read-out of the
distance between the target and the cheetah's velocity when the session began,
``|v_goal − v_switch|``: the reward ``−|v − v_goal|`` tells that distance but not its
sign, so a belief that holds the distance and not the target is a belief left ambiguous
by a policy that keeps its gait.

Does a belief that misses the new latent hold the old one instead? The read-out fitted
on first sessions (where the belief is good) decodes every later step, and that decoded
latent is regressed on the new session's latent and the previous session's, in the
first ``SETTLE`` steps after a switch (``early``) and from then on (``settled``):
weights near (1, 0) follow the switch, near (0, 1) stay on the old latent, and both
about ½ average the two, as a belief trained to explain the whole episode would.

How visible is a switch at the step it happens? ``switch_auc_reward`` is the AUC of the
reward's one-step jump as a switch detector, ``switch_auc_head`` the termination head's
(DynaMITE-RL; NaN for the others): 0.5 is chance.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rllib_dynamite.analysis.playback import TrialRow, TrialSkipped, play_trials, print_rows
from rllib_dynamite.evaluation import EpisodeRecord, EvaluationReport, Evaluator
from rllib_dynamite.evaluation.metrics import (
    follows_switch,
    later_sessions,
    linear_readout,
    switch_detection,
)
from rllib_dynamite.trials import Trial

FORWARD_VELOCITY = 8  # HalfCheetah-v5's observation: qpos[1:] (8), then qvel[0]
SETTLE = 20  # steps after a switch counted as its beginning


def _r2(beliefs: list[np.ndarray], targets: list[np.ndarray]) -> float:
    if not beliefs:
        return float("nan")
    return linear_readout(np.concatenate(beliefs), np.concatenate(targets))[2]


def by_session(episodes: list[EpisodeRecord], velocity: bool) -> dict[str, float]:
    """Read-out R² on first-session and later-session steps, on later sessions from their
    ``SETTLE``-th step, and (``velocity``) of the distance on later sessions; the weights
    of the new and the old latent in the first-session read-out of later steps; the
    switch detectors' AUCs (module docstring). ``episodes`` must carry beliefs."""
    first, first_latent, later, later_latent, later_distance = [], [], [], [], []
    settled, settled_latent = [], []
    for e in episodes:
        beliefs = e.belief_mean[1:]  # the belief after each transition
        sessions = e.session_ids
        first.append(beliefs[sessions == sessions[0]])
        first_latent.append(e.latents[sessions == sessions[0]])
        for steps in later_sessions(sessions):
            later.append(beliefs[steps])
            later_latent.append(e.latents[steps])
            settled.append(beliefs[steps[SETTLE:]])
            settled_latent.append(e.latents[steps[SETTLE:]])
            if velocity:
                speed = e.states[steps[0], FORWARD_VELOCITY]  # when the session began
                later_distance.append(np.abs(e.latents[steps] - speed))
    row = {
        "first_steps": float(sum(len(b) for b in first)),
        "later_steps": float(sum(len(b) for b in later)),
        "r2_first": _r2(first, first_latent),
        "r2_later": _r2(later, later_latent),
        "r2_later_settled": _r2(settled, settled_latent),
    }
    if velocity:
        row["r2_later_distance"] = _r2(later, later_distance)
    row.update(
        switch_detection(
            [e.rewards for e in episodes],
            [e.session_ids for e in episodes],
            (
                [e.termination_logits for e in episodes]
                if all(e.termination_logits is not None for e in episodes)
                else None
            ),
        )
    )
    row.update(
        follows_switch(
            [e.belief_mean[1:] for e in episodes],
            [e.latents for e in episodes],
            [e.session_ids for e in episodes],
            SETTLE,
        )
    )
    return row


def columns(velocity: bool) -> list[str]:
    """The columns :func:`by_session` reports, in the order they are printed."""
    header = ["first_steps", "later_steps", "r2_first", "r2_later", "r2_later_settled"]
    header += ["r2_later_distance"] if velocity else []
    header += ["new_weight_early", "old_weight_early", "new_weight_settled", "old_weight_settled"]
    return header + ["switch_auc_reward", "switch_auc_head"]


def print_beliefs_by_session(
    results: Iterable[str | Path], episodes: int = 25, seed: int = 0, velocity: bool = False
) -> list[TrialRow]:
    """Print :func:`by_session`'s row for every trial under ``results``, on ``episodes``
    greedy episodes seeded by ``seed``; a trial without a belief model is skipped."""

    def measure(_: Trial, __: Evaluator, report: EvaluationReport) -> dict[str, float]:
        if any(e.belief_mean is None for e in report.episodes):
            raise TrialSkipped("no belief model")
        return by_session(report.episodes, velocity)

    rows = play_trials(results, measure, episodes, seed)
    return print_rows(rows, columns(velocity), lambda value: f"{value:.3f}")
