"""``diagnose beliefs`` (analysis/sessions.py) tells a belief that follows a switch from
one that stays on, or averages with, the previous session's latent."""

from __future__ import annotations

import numpy as np
import pytest

from rllib_dynamite.analysis.sessions import by_session
from rllib_dynamite.evaluation.metrics import detection_auc, switch_detection
from rllib_dynamite.evaluation.records import EpisodeRecord


def _episodes(mix_old: float, count: int = 40, horizon: int = 120) -> list[EpisodeRecord]:
    """Episodes with one switch at step 60; the belief mean is an affine code of
    ``(1 - mix_old)·new + mix_old·old`` after the switch, of the latent before it."""
    rng = np.random.default_rng(0)
    episodes = []
    for _ in range(count):
        first, second = rng.uniform(0, 3, size=2)
        session_ids = (np.arange(horizon) >= 60).astype(np.int64)
        latents = np.where(session_ids == 0, first, second)[:, None]
        held = np.where(session_ids == 0, first, (1 - mix_old) * second + mix_old * first)
        belief = np.stack([2.0 * held - 1.0, -held], axis=1)
        belief = np.concatenate([np.zeros((1, 2)), belief])  # b_{-1}, then after each x_t
        episodes.append(
            EpisodeRecord(
                states=np.zeros((horizon + 1, 9)),
                rewards=np.zeros(horizon),
                session_ids=session_ids,
                latents=latents,
                belief_mean=belief + rng.normal(0, 1e-3, belief.shape),
            )
        )
    return episodes


@pytest.mark.parametrize("mix_old", [0.0, 0.5, 1.0])
def test_weights_of_the_new_and_old_latent(mix_old):
    row = by_session(_episodes(mix_old), velocity=False)
    assert row["r2_first"] > 0.99
    for part in ("early", "settled"):
        assert row[f"new_weight_{part}"] == pytest.approx(1 - mix_old, abs=0.02)
        assert row[f"old_weight_{part}"] == pytest.approx(mix_old, abs=0.02)


def test_no_later_session_leaves_the_weights_nan():
    episodes = _episodes(0.0)
    for e in episodes:
        e.session_ids[:] = 0
    row = by_session(episodes, velocity=False)
    assert np.isnan(row["new_weight_settled"]) and np.isnan(row["r2_later"])


def test_a_reward_jump_at_each_switch_is_found_and_noise_is_chance():
    rng = np.random.default_rng(1)
    sessions = np.repeat(np.arange(4), 50)  # switches at steps 50, 100, 150
    rewards = np.where(sessions % 2 == 0, 0.0, -1.0) + rng.normal(0, 0.01, 200)
    row = switch_detection([rewards], [sessions], [rng.normal(0, 1, 200)])
    assert row["switch_auc_reward"] > 0.99
    assert 0.2 < row["switch_auc_head"] < 0.8  # random logits: chance, with 3 positives
    flat = switch_detection([rng.normal(0, 1, 200)], [sessions])
    assert 0.2 < flat["switch_auc_reward"] < 0.8 and np.isnan(flat["switch_auc_head"])


def test_detection_auc_counts_ties_half_and_needs_both_classes():
    assert detection_auc(np.array([1.0, 1.0]), np.array([True, False])) == 0.5
    assert detection_auc(np.array([2.0, 1.0, 0.0]), np.array([True, False, False])) == 1.0
    assert np.isnan(detection_auc(np.array([1.0]), np.array([True])))
