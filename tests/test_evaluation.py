"""Evaluation metrics on hand-made episodes (rllib_dynamite/evaluation/metrics.py)."""

import numpy as np
import pytest

from rllib_dynamite.evaluation.metrics import (
    BoundaryCounts,
    linear_readout,
    session_returns,
    steps_to_adapt,
    summarize_returns,
    switch_steps,
)

# Two switches: sessions [0, 4), [4, 7), [7, 9).
SESSIONS = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
REWARDS = np.array([-0.1, 1.0, 1.0, 1.0, -0.1, -0.1, 1.0, -0.1, -0.1])


def test_switches_and_session_returns():
    assert switch_steps(SESSIONS).tolist() == [4, 7]
    np.testing.assert_allclose(session_returns(REWARDS, SESSIONS), [2.9, 0.8, -0.2])


def test_steps_to_adapt_counts_until_the_pre_switch_level_and_censors():
    # Level before t=4: mean(-0.1, 1, 1, 1) = 0.725, reached again at t=6 -> 2 steps.
    # Level before t=7: mean(-0.1, -0.1, 1) = 0.267, never reached before the end.
    assert steps_to_adapt(REWARDS, SESSIONS) == [2, None]


def test_steps_to_adapt_is_zero_when_the_first_step_matches():
    assert steps_to_adapt(np.array([0.5, 0.5, 0.9]), np.array([0, 0, 1])) == [0]


def test_boundary_counts_exact_and_within_tolerance():
    counts = BoundaryCounts()
    logits = np.full(len(SESSIONS), -3.0)
    logits[[4, 9 - 1]] = 2.0  # one exact hit (t=4), one late by one step (t=8 vs 7)
    logits[0] = 5.0  # step 0 is never scored
    counts.add(logits, SESSIONS, tolerance=2)
    summary = counts.summary(tolerance=2)
    assert summary["termination_precision"] == pytest.approx(0.5)
    assert summary["termination_recall"] == pytest.approx(0.5)
    assert summary["termination_precision_within_2"] == pytest.approx(1.0)
    assert summary["termination_recall_within_2"] == pytest.approx(1.0)


def test_boundary_counts_with_no_predictions_are_zero_not_nan():
    counts = BoundaryCounts()
    counts.add(np.full(len(SESSIONS), -1.0), SESSIONS, tolerance=5)
    assert counts.summary(5)["termination_precision"] == 0.0


def test_linear_readout_recovers_a_linear_latent():
    rng = np.random.default_rng(0)
    beliefs = rng.normal(size=(200, 5))
    latents = beliefs @ rng.normal(size=(5, 2)) + 0.3
    _, decoded, r2 = linear_readout(beliefs, latents)
    assert r2 == pytest.approx(1.0)
    np.testing.assert_allclose(decoded, latents, atol=1e-8)


def test_summarize_returns():
    metrics = summarize_returns([REWARDS.sum()], [REWARDS], [SESSIONS])
    assert metrics["episode_return_mean"] == pytest.approx(3.5)
    assert metrics["session_return_mean"] == pytest.approx(3.5 / 3)
    assert metrics["switches"] == 2
    assert metrics["steps_to_adapt_mean"] == 2.0
    assert metrics["adapted_fraction"] == 0.5
    assert metrics["session_2_return_mean"] == pytest.approx(-0.2)
