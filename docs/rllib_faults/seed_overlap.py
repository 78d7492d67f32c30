"""RLlib's ``seed + worker_index`` and gymnasium's ``seed + k`` give trials shared envs.

Plain RLlib and gymnasium. Run: ``python seed_overlap.py``; about 10 s on 2 CPUs, most
of it importing and starting Ray.

``RngEnv`` puts its RNG draws in its observations, so an episode's observations are its
env random stream. The EnvRunners are built as ``EnvRunnerGroup`` builds them: the
local one with ``worker_index=0``, remote ones with 1, 2, ... (``num_env_runners=2``);
each samples the first episode of each of its four vectorised envs.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

EPISODE_LENGTH = 3
NUM_ENVS = 4


class RngEnv(gym.Env):
    """Observes one draw of its own ``np_random`` per step; actions change nothing."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, config: dict | None = None) -> None:
        super().__init__()

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._draw(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return self._draw(), 0.0, self.t >= EPISODE_LENGTH, False, {}

    def _draw(self) -> np.ndarray:
        return self.np_random.random(1).astype(np.float32)


Stream = tuple[float, ...]


def runner_streams(
    seed: int, worker_index: int, env_runner_cls: type = SingleAgentEnvRunner
) -> tuple[tuple[int, ...], list[Stream]]:
    """The seed gymnasium gave each vectorised env of one EnvRunner, and each env's stream.

    ``seed`` is the trial's ``config.debugging(seed=...)``; ``worker_index`` the runner's.
    """
    config = (
        PPOConfig()
        .environment(RngEnv)
        .env_runners(num_env_runners=2, num_envs_per_env_runner=NUM_ENVS)
        .debugging(seed=seed)
    )
    runner = env_runner_cls(config=config, worker_index=worker_index)
    try:
        episodes = runner.sample(num_episodes=NUM_ENVS, random_actions=True)
        sub_env_seeds = tuple(int(s) for s in runner.env.unwrapped.np_random_seed)
    finally:
        runner.stop()
    # All episodes end at the same step, so they come back in env order.
    streams = [
        tuple(np.round(np.ravel(e.get_observations()).astype(float), 6).tolist()) for e in episodes
    ]
    return sub_env_seeds, streams


def shared(a: list[Stream], b: list[Stream]) -> int:
    """How many env streams two runners have in common."""
    return len(set(a) & set(b))


def main() -> None:
    print(f"ray {ray.__version__}, gymnasium {gym.__version__}")
    runners = {(seed, w): runner_streams(seed, w) for seed in (0, 1) for w in (1, 2)}
    for (seed, w), (sub_env_seeds, _) in runners.items():
        print(f"trial seed {seed}, EnvRunner {w}: sub-env seeds {sub_env_seeds}")
    streams = {key: value[1] for key, value in runners.items()}
    pairs = [
        ("trial seed 0 runner 2 vs trial seed 1 runner 1", (0, 2), (1, 1)),
        ("trial seed 0 runner 1 vs trial seed 1 runner 1", (0, 1), (1, 1)),
        ("trial seed 0 runner 1 vs trial seed 0 runner 2", (0, 1), (0, 2)),
    ]
    overlaps = []
    for label, a, b in pairs:
        overlaps.append(shared(streams[a], streams[b]))
        print(f"{label}: {overlaps[-1]} of {NUM_ENVS} env streams identical")
    seed_0, seed_1 = streams[(0, 1)], streams[(1, 1)]
    shifted = all(seed_1[k - 1] == seed_0[k] for k in range(1, NUM_ENVS))
    print(f"EnvRunner 1: sub-env k of trial seed 0 == sub-env k-1 of trial seed 1: {shifted}")
    distinct = len(set(streams[(0, 1)]) | set(streams[(0, 2)]))
    print(f"trial seed 0: its 2 x {NUM_ENVS} envs run {distinct} distinct env streams")
    print(
        "FAULT: different trials and EnvRunners draw the same env random streams"
        if any(overlaps)
        else "OK: no env stream is shared between trials or EnvRunners"
    )


if __name__ == "__main__":
    main()
