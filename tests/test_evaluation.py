"""Evaluation metrics on hand-made episodes (rllib_dynamite/evaluation/metrics.py,
adaptation.py)."""

import contextlib
import io
import json
import math

import gymnasium as gym
import numpy as np
import pytest

from rllib_dynamite.cli import main
from rllib_dynamite.config import make_config
from rllib_dynamite.envs import ENV_IDS, make
from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.evaluation.adaptation import step_successes, success_rule
from rllib_dynamite.evaluation.metrics import (
    BoundaryCounts,
    episode_info_metrics,
    later_sessions,
    linear_readout,
    session_returns,
    steps_to_adapt,
    summarize_returns,
    switch_steps,
)

# Two switches: sessions [0, 4), [4, 7), [7, 9); GridNavi rewards (goal 1, else -0.1).
SESSIONS = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
REWARDS = np.array([-0.1, 1.0, 1.0, 1.0, -0.1, -0.1, 1.0, -0.1, -0.1])
SUCCESSES = REWARDS >= 1.0
GRID = "rllib_dynamite/GridNavi-v0"
CHEETAH = "rllib_dynamite/HalfCheetahVel-v0"
SCRATCH = "rllib_dynamite/ScratchItch-v0"


def test_switches_and_session_returns():
    assert switch_steps(SESSIONS).tolist() == [4, 7]
    assert [steps.tolist() for steps in later_sessions(SESSIONS)] == [[4, 5, 6], [7, 8]]
    assert later_sessions(np.zeros(5, dtype=int)) == []
    np.testing.assert_allclose(session_returns(REWARDS, SESSIONS), [2.9, 0.8, -0.2])


def test_steps_to_adapt_counts_until_the_new_goal_and_censors():
    # The new goal is first reached at t=6, 2 steps after the switch at t=4; the
    # session from t=7 ends without reaching its goal: censored.
    assert steps_to_adapt(SUCCESSES, SESSIONS) == [2, None]


def test_steps_to_adapt_is_zero_when_the_first_step_succeeds():
    assert steps_to_adapt(np.array([False, False, True]), np.array([0, 0, 1])) == [0]


def test_an_episode_without_switches_has_nothing_to_adapt_to():
    assert steps_to_adapt(np.array([True, False]), np.array([0, 0])) == []
    metrics = summarize_returns([0.9], [np.array([1.0, -0.1])], [np.array([0, 0])],
                                [np.array([True, False])])  # fmt: skip
    assert metrics["switches"] == 0 and math.isnan(metrics["adapted_fraction"])


def test_a_failing_agent_never_adapts():
    # Never on a goal: every switch is censored, whatever it earned before the switch
    # (the previous rule, "regain the pre-switch reward", counted these as adapted at 0).
    rewards = np.full(len(SESSIONS), -0.1)
    assert steps_to_adapt(rewards >= 1.0, SESSIONS) == [None, None]
    metrics = summarize_returns([rewards.sum()], [rewards], [SESSIONS], [rewards >= 1.0])
    assert metrics["switches"] == 2 and metrics["adapted_fraction"] == 0.0
    assert math.isnan(metrics["steps_to_adapt_mean"])


def test_staying_on_the_old_goal_is_not_adapting():
    # On the goal all session 0, then -0.1 on the old goal cell after the switch.
    rewards = np.array([1.0, 1.0, 1.0, -0.1, -0.1, -0.1])
    sessions = np.array([0, 0, 0, 1, 1, 1])
    assert steps_to_adapt(rewards >= 1.0, sessions) == [None]


def test_without_a_success_rule_adaptation_is_nan_not_zero():
    metrics = summarize_returns([REWARDS.sum()], [REWARDS], [SESSIONS], [None])
    assert metrics["switches"] == 2
    assert math.isnan(metrics["adapted_fraction"]) and math.isnan(metrics["steps_to_adapt_mean"])


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
    metrics = summarize_returns([REWARDS.sum()], [REWARDS], [SESSIONS], [SUCCESSES])
    assert metrics["episode_return_mean"] == pytest.approx(3.5)
    assert metrics["session_return_mean"] == pytest.approx(3.5 / 3)
    assert metrics["switches"] == 2
    assert metrics["steps_to_adapt_mean"] == 2.0
    assert metrics["adapted_fraction"] == 0.5
    assert metrics["session_2_return_mean"] == pytest.approx(-0.2)


def test_info_metrics_reduce_each_episode_as_declared():
    infos = [
        {"scratch": False, "force": 0.0},
        {"scratch": True, "force": 4.0},
        {"scratch": True, "force": 2.0},
    ]
    declared = {"scratches": ("scratch", "sum"), "force_mean": ("force", "mean"),
                "force_max": ("force", "max")}  # fmt: skip
    assert episode_info_metrics(infos, declared) == {
        "scratches": 2.0,
        "force_mean": 2.0,
        "force_max": 4.0,
    }
    assert episode_info_metrics(infos, {}) == {}
    with pytest.raises(ValueError, match="reduction must be one of"):
        episode_info_metrics(infos, {"f": ("force", "median")})
    with pytest.raises(ValueError, match=r"reads info\['speed'\], which step 0 lacks"):
        episode_info_metrics(infos, {"speed": ("speed", "mean")})


def test_evaluate_reports_scratch_itch_s_own_metrics(ray_local, tmp_path):
    """``rllib-dynamite evaluate`` on a ScratchItch checkpoint prints the per-episode means
    of what the env declares (scratches, forces on the person) and writes each episode's."""
    config = make_config(SCRATCH, "markov_ppo", num_env_runners=0, seed=0, env_config={"H": 20})
    algo = config.build_algo()
    try:
        checkpoint = algo.save_to_path(str(tmp_path / "checkpoint"))
    finally:
        algo.stop()
    printed, json_path = io.StringIO(), tmp_path / "eval.json"
    with contextlib.redirect_stdout(printed):
        status = main(["evaluate", str(checkpoint), "--episodes", "2", "--json", str(json_path)])
    assert status == 0
    declared = make(SCRATCH).metadata["evaluation_metrics"]
    assert set(declared) == {"scratches_per_episode", "force_at_itch_mean",
                             "force_at_itch_max", "force_away_mean"}  # fmt: skip
    report = json.loads(json_path.read_text())
    for name in declared:
        assert f"  {name} " in printed.getvalue()
        per_episode = [episode[name] for episode in report["episodes"]]
        assert len(per_episode) == 2 and min(per_episode) >= 0.0
        assert report["metrics"][name] == pytest.approx(np.mean(per_episode))
    assert "scratches_per_episode" not in make(GRID).metadata.get("evaluation_metrics", {})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_built_in_env_has_a_success_rule_that_reads_its_info(env_id):
    env = make(env_id)
    try:
        env.reset(seed=0)
        rewards, infos = [], []
        for _ in range(3):
            _, reward, _, _, info = env.step(env.action_space.sample())
            rewards.append(reward)
            infos.append(info)
        rule = success_rule(env)
        assert rule is not None
        assert step_successes(rule, rewards, infos).dtype == bool
    finally:
        env.close()


def test_gridnavi_succeeds_on_the_current_goal_only():
    env = make(GRID)
    env.reset(seed=0)
    goal = env.unwrapped.latent
    env.unwrapped.set_position(int(goal[0]), int(goal[1]))
    _, reward, _, _, info = env.step(0)  # stay on the goal
    assert success_rule(env)(reward, info)
    env.unwrapped.set_latent(np.array([4.0, 4.0]) if goal[0] != 4 else np.array([2.0, 2.0]))
    _, reward, _, _, info = env.step(0)  # the goal moved: same cell, no success
    assert not success_rule(env)(reward, info)


def test_continuous_rules_are_within_a_tolerance_of_the_best_level():
    reacher_env, cheetah_env = make("rllib_dynamite/Reacher-v0"), make(CHEETAH)
    reacher, cheetah = success_rule(reacher_env), success_rule(cheetah_env)
    reacher_env.close()
    cheetah_env.close()
    assert reacher(-0.3, {"reward_dist": -0.015}) and not reacher(-0.3, {"reward_dist": -0.05})
    assert cheetah(-1.0, {"reward_forward": -0.2}) and not cheetah(-0.3, {"reward_forward": -0.5})


def test_the_evaluator_scores_adaptation_by_the_env_s_rule():
    config = make_config(GRID, "markov_ppo", num_env_runners=0, seed=0)
    evaluator = Evaluator(config, seed=3)
    try:
        report = evaluator.evaluate(2, with_figure=False, explore=True)
    finally:
        evaluator.stop()
    for episode in report.episodes:
        np.testing.assert_array_equal(episode.successes, episode.rewards >= 1.0)
    adapt = [c for e in report.episodes for c in steps_to_adapt(e.successes, e.session_ids)]
    assert report.metrics["switches"] == len(adapt)
    adapted = sum(c is not None for c in adapt)
    assert report.metrics["adapted_fraction"] == pytest.approx(adapted / len(adapt))


class _Holder(gym.Env):
    """An env that holds another and passes its info on, as the offline belief env."""

    def __init__(self, env):
        self.env = env


def test_the_env_s_own_is_success_wins_and_a_plain_env_has_no_rule():
    rewards, infos = [1.0, -0.1], [{"is_success": False}, {"is_success": True}]
    assert step_successes(success_rule(make(GRID)), rewards, infos).tolist() == [False, True]
    assert success_rule(_Holder(make(GRID))) is not None
    plain = gym.make("CartPole-v1")
    assert success_rule(plain) is None
    assert step_successes(None, [1.0], [{}]) is None
