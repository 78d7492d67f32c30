"""RLlib re-seeds its envs before every ``batch_mode="complete_episodes"`` batch.

Plain RLlib and gymnasium. Run: ``python complete_episodes_reseed.py``; about 10 s on 2 CPUs, most
of it importing and starting Ray.

``RngEnv`` puts its RNG draws in its observations, so an episode's observations are its
env random stream. PPO trains three iterations on one local EnvRunner with two
vectorised envs; every batch holds the same episodes.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

EPISODE_LENGTH = 3
NUM_ENVS = 2


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


def training_batches(
    iterations: int = 3,
    env_runner_cls: type = SingleAgentEnvRunner,
    sample_calls_per_iteration: int = 1,
) -> list[list[tuple[float, ...]]]:
    """The episodes of each ``sample()`` call of training, as each one's observations.

    Every call samples one episode per vectorised env; with ``sample_calls_per_iteration``
    above 1, one training batch is the episodes of that many consecutive calls.
    """
    batch_size = sample_calls_per_iteration * NUM_ENVS * EPISODE_LENGTH
    config = (
        PPOConfig()
        .environment(RngEnv)
        .env_runners(
            num_env_runners=0,
            num_envs_per_env_runner=NUM_ENVS,
            batch_mode="complete_episodes",
            env_runner_cls=env_runner_cls,
        )
        .training(train_batch_size_per_learner=batch_size, minibatch_size=batch_size, num_epochs=1)
        .debugging(seed=0)
    )
    batches: list[list[tuple[float, ...]]] = []
    config.callbacks(
        on_sample_end=lambda *, samples, **kwargs: batches.append(
            [
                tuple(np.round(np.ravel(e.get_observations()).astype(float), 4).tolist())
                for e in samples
            ]
        )
    )
    algo = config.build_algo()
    try:
        for _ in range(iterations):
            algo.train()
    finally:
        algo.stop()
    return batches


def main() -> None:
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        batches = training_batches()
    finally:
        ray.shutdown()
    print(f"ray {ray.__version__}, gymnasium {gym.__version__}")
    for i, batch in enumerate(batches):
        print(f"iteration {i}: {batch}")
    replayed = all(sorted(b) == sorted(batches[0]) for b in batches[1:])
    print(
        "FAULT: every training batch replays the first batch's episodes"
        if replayed
        else "OK: each training batch meets fresh episodes"
    )


if __name__ == "__main__":
    main()
