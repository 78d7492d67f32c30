"""Scripted references and the calibration of the memoryless presets (docs/results.md)."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns

from rllib_dynamite.analysis import switch_value
from rllib_dynamite.cli import main
from rllib_dynamite.config import make_config
from rllib_dynamite.envs import make
from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.evaluation.adaptation import REACH_TOLERANCE
from rllib_dynamite.evaluation.scripted import (
    RIGHT,
    STAY,
    UP,
    NoScriptedReferences,
    TapSkin,
    gridnavi_oracle,
    reach_to,
    reacher_oracle,
    run_episodes,
    scripted_references,
    tap_points,
    walk_to,
)

PAPER_GRID = "rllib_dynamite/PaperGridNavi-v0"
GRID = "rllib_dynamite/GridNavi-v0"
REACHER = "rllib_dynamite/Reacher-v0"
CHEETAH = "rllib_dynamite/HalfCheetahVel-v0"
SCRATCH = "rllib_dynamite/ScratchItch-v0"


def _benchmark_module() -> SimpleNamespace:
    """benchmarks/calibration.py (a script, not a package) as a namespace of its names."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "calibration.py"
    return SimpleNamespace(**runpy.run_path(str(path)))


def test_scripted_policies_walk_where_they_should():
    env = make(PAPER_GRID, p=0.0)
    obs, _ = env.reset(seed=0)
    env.unwrapped.set_latent(np.array([0.0, 4.0]))
    assert gridnavi_oracle(env, obs) == UP
    assert walk_to((4, 0))(env, obs) == RIGHT
    assert walk_to((0, 0))(env, obs) == STAY


@pytest.mark.parametrize(
    ("env_id", "env_config"), [(PAPER_GRID, {}), ("rllib_dynamite/TwoGoalGridNavi-v0", {})]
)
def test_references_are_ordered(env_id, env_config):
    references = scripted_references(make(env_id, **env_config), episodes=100, seed=0)
    random, memoryless, oracle = (references[k].mean for k in ("random", "memoryless", "oracle"))
    assert random < memoryless < oracle
    assert oracle > 35.0  # the oracle reaches the goal and stays on it most steps


def test_the_reacher_controllers_reach_their_points():
    """The scripted oracle's fingertip settles on the true target, as the success rule
    counts it; the memoryless point at the shoulder folds the arm as far as it goes."""
    env = make(REACHER, p=0.0)
    for policy, expected in ((reacher_oracle, None), (reach_to((0.0, 0.0)), (0.0, 0.0))):
        obs, _ = env.reset(seed=3)
        for _ in range(50):
            obs, *_ = env.step(policy(env, obs))
        target = env.unwrapped.target_position() if expected is None else np.array(expected)
        distance = np.linalg.norm(obs[6:8] - target)
        assert distance < (REACH_TOLERANCE if expected is None else 0.025)
        assert np.abs(obs[4:6]).max() < 0.1  # held still
    env.close()


def test_continuous_references_are_ordered():
    reacher = scripted_references(make(REACHER), episodes=10, seed=0)
    random, memoryless, oracle = (reacher[k].mean for k in ("random", "memoryless", "oracle"))
    # Measured on 200 episodes (seed 0): -50.7, -31.7 and -7.4 per 200-step episode.
    assert random + 10.0 < memoryless < oracle - 15.0
    assert "shoulder" in reacher["memoryless"].description
    cheetah = scripted_references(make(CHEETAH), episodes=10, seed=0)
    assert set(cheetah) == {"random", "memoryless"}  # no scripted oracle
    assert cheetah["random"].mean < cheetah["memoryless"].mean
    # Simple controllers, not the best of their class: nothing is held to them.
    assert not any(r.bound for r in (*reacher.values(), *cheetah.values()))
    assert scripted_references(make(PAPER_GRID), episodes=2)["oracle"].bound


def test_the_scratch_itch_tapper_scratches_gently():
    """Tapping a reachable itch scores a scratch every few steps, below the 10 N a
    scratch allows, and never touches the person elsewhere."""
    env = make(SCRATCH, p=0.0)
    obs, _ = env.reset(seed=0)
    task = env.unwrapped
    itch = tap_points(task)["50% of the way down the limb"]
    task.set_latent(itch)
    policy = TapSkin()
    scratches, force_at_itch, force_away = 0, [], []
    for _ in range(200):
        obs, _, _, _, info = env.step(policy(env, obs))
        scratches += info["scratch"]
        force_at_itch.append(info["force_at_itch"])
        force_away.append(info["force_away"])
    # Measured: 26 scratches, at most 6.0 N, nothing elsewhere.
    assert scratches >= 15
    assert 0.0 < max(force_at_itch) < 10.0
    assert max(force_away) == 0.0
    env.close()


def test_scratch_itch_references_are_ordered():
    references = scripted_references(make(SCRATCH), episodes=4, seed=0)
    random, memoryless, oracle = (references[k].mean for k in ("random", "memoryless", "oracle"))
    # benchmarks/calibration.py, 100 episodes (seed 0): -67.9, -39.0, +39.4.
    assert random + 10.0 < memoryless < oracle - 20.0
    assert not any(r.bound for r in references.values())


def test_no_references_for_an_env_without_them(monkeypatch: pytest.MonkeyPatch):
    """A user's own env has none; the calibration plays a random policy alone."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "user_project"))
    env = make("setpoint_env:make_setpoint", H=5)
    with pytest.raises(NoScriptedReferences, match="no scripted references for DLCMDPWrapper"):
        scripted_references(env, episodes=1)
    calibration = _benchmark_module()
    references = calibration.references_for("setpoint_env:make_setpoint", '{"H": 5}', 2, 0)
    (random,) = references.values()
    assert random.name == "random" and random.returns.shape == (2,)


def test_clearly_above_means_the_seed_bands_do_not_overlap():
    calibration = _benchmark_module()
    assert calibration.band([1.0, 3.0]) == pytest.approx((2.0, np.sqrt(2.0)))
    assert calibration.band([5.0]) == (5.0, 0.0)
    assert calibration.clearly_above([-10.0, -12.0, -11.0], [-30.0])
    assert not calibration.clearly_above([-10.0, -30.0], [-25.0])  # -20 ± 14 reaches -25
    assert not calibration.clearly_above([-20.0, -21.0], [-19.0, -22.0])
    assert not calibration.clearly_above([-25.0], [-25.0])


def test_calibration_reads_a_continuous_tune_run(ray_local, tmp_path):
    """A finished ``rllib-dynamite tune`` run on Reacher gets the bands gate, with the
    scripted references beside it."""
    experiment = tmp_path / "tiny_reacher.yaml"
    experiment.write_text(
        f"env: {REACHER}\npresets: [oracle, markov_ppo]\nseeds: [0]\nstop_timesteps: 80\n"
        "checkpoint_frequency: 0\nevaluation_interval: 0\n"
        "settings: {num_env_runners: 0, num_envs_per_env_runner: 2, env_config: {H: 20}}\n"
        "resources: {max_concurrent_trials: 2}\n"
    )
    assert main(["tune", str(experiment), "--output", str(tmp_path)]) == 0
    lines, all_pass = _benchmark_module().calibrate([tmp_path / "tiny_reacher"], 3, 0)
    (row,) = [line for line in lines if line.startswith(f"| {REACHER} |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == '{"H": 20}'
    float(cells[2]), float(cells[3]), float(cells[4])  # random, memoryless, scripted oracle
    assert " ± " in cells[5] and "(1 seed: " in cells[6]
    assert cells[7] == ("pass (bands)" if all_pass else "FAIL (bands)")


def test_the_gate_reads_negative_references_by_magnitude():
    calibration = _benchmark_module()
    assert calibration.passes(38.0, 40.0) and not calibration.passes(37.9, 40.0)
    assert calibration.passes(-2.95, -2.85) and not calibration.passes(-3.0, -2.85)


def test_evaluator_and_scripted_episodes_meet_the_same_goals(ray_local):
    """Trained presets are evaluated on the scripted references' episodes (paired)."""
    config = make_config(PAPER_GRID, "markov_ppo", num_env_runners=0, seed=0)
    evaluator = Evaluator(config, seed=7)
    try:
        episodes = evaluator.evaluate(3, with_figure=False).episodes
    finally:
        evaluator.stop()
    env = make(PAPER_GRID)
    for index, episode in enumerate(episodes):
        env.reset(seed=7 if index == 0 else None)
        latents = [env.step(0)[-1]["latent"] for _ in range(len(episode.rewards))]
        np.testing.assert_array_equal(np.stack(latents), episode.latents)
    assert run_episodes(env, walk_to((4, 0)), 2, seed=7).shape == (2,)


def test_the_oracle_preset_acts_on_the_goal_it_sees(ray_local):
    """The greedy Oracle's first action from (0, 0) depends on the goal in its observation
    (under VariBAD's tanh [32] head it walked right whatever the goal)."""
    config = make_config(PAPER_GRID, "oracle", num_env_runners=0, seed=0)
    algo = config.build_algo()
    try:
        for _ in range(40):
            algo.train()
        module = algo.get_module()
        obs = torch.tensor([[0.0, 0.0, 4.0, 0.0], [0.0, 0.0, 0.0, 4.0]])
        with torch.no_grad():
            logits = module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    finally:
        algo.stop()
    assert logits.argmax(-1).tolist() == [RIGHT, UP]


def test_switch_value_prices_leaving_the_goal_that_moved():
    paper = make(PAPER_GRID).unwrapped
    row = switch_value.switch_decision(paper, gamma=0.95)
    # Leaving pays a little if the goal moved and costs about a step's worth of +1s
    # (and more) if it did not, so only a confident belief should leave.
    assert 0.0 < row["gain"] < row["cost"]
    assert 0.8 < row["threshold"] < 0.86
    # A longer horizon values the walk more; the -0.1 inactive goal makes staying worse.
    assert switch_value.switch_decision(paper, gamma=0.99)["threshold"] < row["threshold"]
    two_goal = make(GRID, num_goals=2).unwrapped
    assert switch_value.switch_decision(two_goal, gamma=0.95)["threshold"] < row["threshold"]
    # Without session ends the goal never moves back: staying on a dead goal gains nothing.
    still = make(PAPER_GRID, p=0.0).unwrapped
    q = switch_value.goal_observed_q(still, gamma=0.95)
    assert q[4, 0, 1, 0] < q[4, 0, 1, 1:].max()
    with pytest.raises(ValueError, match="two-goal"):
        switch_value.switch_decision(make(GRID).unwrapped, gamma=0.95)
