"""The development suite (rllib_dynamite/suite.py): valid gymnasium envs, DLCMDP labels,
and scripted references through the ``scripted_policies()`` hook."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rllib_dynamite.evaluation.scripted import (
    NoScriptedReferences,
    run_episodes,
    scripted_references,
)
from rllib_dynamite.suite import SUITE, DriftingBandit, MovingGoal2D, SetPointTracker


@pytest.mark.parametrize("name", sorted(SUITE))
@pytest.mark.parametrize("oracle", [False, True])
def test_suite_tasks_pass_gymnasiums_checker(name, oracle):
    check_env(SUITE[name](oracle=oracle), skip_render_check=True)


@pytest.mark.parametrize("name", sorted(SUITE))
def test_suite_tasks_label_sessions_and_move_the_latent(name):
    env = SUITE[name](p=0.5, H=40)
    env.reset(seed=3)
    latents, sessions = [], []
    for _ in range(40):
        _, _, _, truncated, info = env.step(env.action_space.sample())
        latents.append(np.asarray(info["latent"]).copy())
        sessions.append(info["session_id"])
    assert truncated
    assert sessions[-1] > 0 and sessions == sorted(sessions)
    changed = [not np.array_equal(a, b) for a, b in zip(latents, latents[1:], strict=False)]
    assert any(changed)


@pytest.mark.parametrize("name", sorted(SUITE))
def test_oracle_reference_beats_memoryless_and_random(name):
    refs = scripted_references(SUITE[name](), episodes=40, seed=0)
    assert {"random", "memoryless", "oracle"} <= set(refs)
    gap = refs["oracle"].mean - refs["memoryless"].mean
    assert gap > 0.5 * abs(refs["oracle"].mean - refs["random"].mean)
    assert refs["memoryless"].mean >= refs["random"].mean - 1.0


def test_set_point_oracle_reaches_the_set_point():
    env = SetPointTracker(p=0.0, H=30)
    env.reset(seed=0)
    env.set_latent(np.array([1.0], dtype=np.float32))
    policy = env.scripted_policies()["oracle"][1]
    obs = np.zeros(1, dtype=np.float32)
    for _ in range(10):
        obs, reward, *_ = env.step(policy(env, obs))
    assert reward == pytest.approx(0.0, abs=1e-6)


def test_set_point_belief_finds_a_jumped_set_point_from_rewards_alone():
    """ProbeAndTrack never reads the latent: after a jump it reaches the new set-point
    within a few steps more than the oracle needs."""
    env = SetPointTracker(p=0.0, H=40)
    obs, _ = env.reset(seed=0)
    policy = env.scripted_policies()["belief"][1]
    policy.reset()
    for target in (1.0, -0.6):
        env.set_latent(np.array([target], dtype=np.float32))
        for _ in range(14):
            obs, reward, *_ = env.step(policy(env, obs))
            policy.observe(obs, float(reward))
        assert reward == pytest.approx(0.0, abs=1e-5)


def test_set_point_belief_reference_closes_most_of_the_memoryless_gap():
    """What acting on a belief can reach on the set-point tracker: most of the way from
    the best memoryless policy to the oracle (docs/results.md, "Beliefs that act")."""
    refs = scripted_references(SetPointTracker(), episodes=60, seed=0)
    memoryless, belief, oracle = (refs[k].mean for k in ("memoryless", "belief", "oracle"))
    assert memoryless < belief < oracle
    assert (belief - memoryless) / (oracle - memoryless) > 0.8


def test_moving_goal_oracle_reaches_the_goal():
    env = MovingGoal2D(p=0.0, H=30)
    env.reset(seed=0)
    policy = env.scripted_policies()["oracle"][1]
    obs = np.zeros(2, dtype=np.float32)
    for _ in range(12):
        obs, reward, *_ = env.step(policy(env, obs))
    assert reward > -1e-5


def test_bandit_references_are_the_best_of_their_class():
    env = DriftingBandit()
    refs = scripted_references(env, episodes=60, seed=1)
    assert refs["oracle"].bound and refs["memoryless"].bound
    # One arm in four pays, whatever a memoryless policy pulls.
    assert refs["memoryless"].mean == pytest.approx(env.H / env.ARMS, rel=0.2)
    assert refs["oracle"].mean == pytest.approx(env.H, rel=0.05)


def test_an_env_without_the_hook_says_how_to_add_one():
    with pytest.raises(NoScriptedReferences, match="scripted_policies"):
        scripted_references(gym.make("CartPole-v1"), episodes=1)


def test_a_malformed_hook_is_one_clear_error():
    class NoMemoryless(SetPointTracker):
        def scripted_policies(self):
            return {"oracle": ("o", lambda env, obs: np.zeros(1, np.float32))}

    with pytest.raises(NoScriptedReferences, match="'memoryless'"):
        scripted_references(NoMemoryless(), episodes=1)


def test_run_episodes_is_seeded():
    policy = SetPointTracker().scripted_policies()["oracle"][1]
    first = run_episodes(SetPointTracker(), policy, 5, seed=7)
    again = run_episodes(SetPointTracker(), policy, 5, seed=7)
    np.testing.assert_array_equal(first, again)


def _greedy_return(algo, oracle: bool, episodes: int = 20) -> float:
    """Mean return of the memoryless module's mean action on seeded episodes."""
    import torch
    from ray.rllib.core.columns import Columns

    module = algo.get_module()
    env = SetPointTracker(oracle=oracle)
    total = 0.0
    for episode in range(episodes):
        obs, _ = env.reset(seed=1000 + episode)
        done = False
        while not done:
            with torch.no_grad():
                out = module.forward_inference({Columns.OBS: torch.as_tensor(obs)[None]})
            mean = out[Columns.ACTION_DIST_INPUTS][0, :1].numpy()
            obs, reward, terminated, truncated, _ = env.step(np.clip(mean, -1.0, 1.0))
            total += reward
            done = terminated or truncated
    return total / episodes


def test_oracle_preset_learns_the_set_point_tracker_beyond_markov_ppo_and_random(ray_local):
    from rllib_dynamite import make_config

    returns = {}
    for preset in ("oracle", "markov_ppo"):
        algo = make_config(
            "rllib_dynamite.suite:SetPointTracker", preset, num_env_runners=0, seed=0
        ).build_algo()
        try:
            for _ in range(30):  # 28,800 env steps
                algo.train()
            returns[preset] = _greedy_return(algo, oracle=preset == "oracle")
        finally:
            algo.stop()
    random_return = scripted_references(SetPointTracker(), episodes=20, seed=1000)["random"].mean
    assert returns["oracle"] > returns["markov_ppo"] + 10.0, returns
    assert returns["oracle"] > random_return + 10.0, (returns, random_return)
