"""End to end: DynaMITE-RL on the paper's gridworld learns, on 2 CPUs, in about a minute."""

import numpy as np

import rllib_dynamite
from rllib_dynamite.config import make_config

GRID = "rllib_dynamite/PaperGridNavi-v0"


def random_policy_return(episodes: int = 300) -> tuple[float, float]:
    """Mean return of uniformly random actions on the paper's gridworld, and its standard error."""
    env = rllib_dynamite.envs.make(GRID)
    rng = np.random.default_rng(0)
    returns = []
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(5)))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns)), float(np.std(returns) / np.sqrt(episodes))


def test_dynamite_beats_a_random_policy_on_the_paper_gridworld(ray_local):
    random_mean, random_se = random_policy_return()
    algo = make_config(GRID, "dynamite", num_env_runners=1, seed=0).build_algo()
    try:
        returns = [algo.train()["env_runners"]["episode_return_mean"] for _ in range(100)]
    finally:
        algo.stop()
    # The last 20 iterations are 320 episodes; the random policy's mean is about -3.2.
    trained = float(np.mean(returns[-20:]))
    assert trained > random_mean + 2.0, (trained, random_mean, random_se)
