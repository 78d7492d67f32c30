"""Collect an offline dataset: roll out a behaviour policy and write its episodes
(``rllib-dynamite collect``; docs/offline.md).

The behaviour policy is either uniform random or a trained checkpoint, which acts
greedily except that with probability ``epsilon`` a step takes a uniformly random
action instead. Checkpoint rollouts run through an RLlib ``SingleAgentEnvRunner`` built
from the run's own config, so observations pass the same connectors as in training;
the noise is one extra module-to-env connector piece. Whatever the policy saw (an
oracle's latent, the previous action and reward), the dataset stores the env's own
observation ``s_t`` and the action the env executed.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rllib_dynamite.envs import make
from rllib_dynamite.offline.dataset import (
    CARD_FILE,
    DatasetCard,
    DatasetError,
    EpisodeArrays,
    write_dataset,
)

RANDOM_POLICY = "random"
MODULE_ID = "default_policy"


def describe_action_space(space: gym.Space) -> dict[str, Any]:
    """The card's description of an action space (``Discrete`` or ``Box``)."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "discrete", "n": int(space.n)}
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "box",
            "shape": list(space.shape),
            "low": space.low.reshape(-1).tolist(),
            "high": space.high.reshape(-1).tolist(),
        }
    raise ValueError(f"action space must be Discrete or Box, got {space}")


def _episode_from_steps(
    observations: list[np.ndarray],
    actions: list[Any],
    rewards: list[float],
    infos: list[dict[str, Any]],
    terminated: bool,
    truncated: bool,
    obs_dim: int,
) -> EpisodeArrays:
    """``infos[t]`` is the info returned with ``s_{t+1}``: the labels of ``x_t``."""
    return EpisodeArrays(
        obs=np.asarray(observations, dtype=np.float32).reshape(len(observations), -1)[:, :obs_dim],
        actions=np.asarray(actions),
        rewards=np.asarray(rewards, dtype=np.float32),
        terminated=bool(terminated),
        truncated=bool(truncated),
        session_ids=np.array([info["session_id"] for info in infos], dtype=np.int64),
        session_ends=np.array([info["session_end"] for info in infos], dtype=bool),
        latents=np.stack([np.asarray(info["latent"], np.float32) for info in infos]),
    )


def random_episodes(
    env_id: str, env_config: dict[str, Any], num_episodes: int, seed: int | None
) -> list[EpisodeArrays]:
    """``num_episodes`` episodes of a uniformly random policy."""
    env = make(env_id, **env_config)
    env.action_space.seed(seed)
    obs_dim, _ = env_spaces(env_id, env_config)
    episodes = []
    for index in range(num_episodes):
        obs, _ = env.reset(seed=None if seed is None else seed + index)
        observations, actions, rewards, infos = [obs], [], [], []
        terminated = truncated = False
        while not (terminated or truncated):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            infos.append(info)
        episodes.append(
            _episode_from_steps(
                observations, actions, rewards, infos, terminated, truncated, obs_dim
            )
        )
    env.close()
    return episodes


def env_spaces(env_id: str, env_config: dict[str, Any]) -> tuple[int, gym.Space]:
    """``(observation size, action space)`` of the env (built once and closed)."""
    env = make(env_id, **env_config)
    try:
        return int(np.prod(env.observation_space.shape)), env.action_space
    finally:
        env.close()


def load_checkpoint_config(checkpoint: Path) -> Any:
    """The ``AlgorithmConfig`` an Algorithm checkpoint was built from."""
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
    from ray.rllib.utils.checkpoints import Checkpointable

    with open(checkpoint / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME, "rb") as file:
        config_state = pickle.load(file)["ctor_args_and_kwargs"][0][0]
    return AlgorithmConfig.from_state(config_state)


def _epsilon_connector(epsilon: float, normalize_actions: bool, seed: int | None) -> Any:
    from rllib_dynamite.offline.noise import EpsilonRandomActions

    def build(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
        return EpsilonRandomActions(epsilon=epsilon, normalize_actions=normalize_actions, seed=seed)

    return build


def checkpoint_episodes(
    checkpoint: str | Path, num_episodes: int, epsilon: float, seed: int | None
) -> tuple[Path, str, dict[str, Any], list[EpisodeArrays]]:
    """Episodes of a trained policy with ``epsilon``-random actions.

    Returns ``(checkpoint, env_id, env_config, episodes)``: the checkpoint found under
    ``checkpoint``, the env of its run, the env's keyword arguments without ``oracle``
    (the dataset never holds the latent in the observation), and the episodes.
    """
    from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE
    from ray.rllib.core.rl_module.rl_module import RLModule
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
    from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

    from rllib_dynamite.evaluation.checkpoints import find_checkpoint

    # Absolute: RLlib reads a relative checkpoint path as a URI without a scheme.
    path = find_checkpoint(checkpoint).resolve()
    config = load_checkpoint_config(path).copy(copy_frozen=False)
    config.env_runners(
        num_env_runners=0,
        num_envs_per_env_runner=1,
        module_to_env_connector=_epsilon_connector(epsilon, config.normalize_actions, seed),
    )
    config.debugging(seed=seed)
    env_id = str(config.env)
    env_config = {k: v for k, v in dict(config.env_config).items() if k != "oracle"}
    obs_dim, action_space = env_spaces(env_id, env_config)

    runner = SingleAgentEnvRunner(config=config)
    module_path = (
        path / COMPONENT_LEARNER_GROUP / COMPONENT_LEARNER / COMPONENT_RL_MODULE / MODULE_ID
    )
    module = RLModule.from_checkpoint(module_path)
    runner.set_state({COMPONENT_RL_MODULE: module.get_state(inference_only=True)})
    try:
        sampled = runner.sample(num_episodes=num_episodes, explore=False)[:num_episodes]
    finally:
        runner.stop()
    episodes = []
    for episode in sampled:
        actions = list(episode.get_actions())
        if isinstance(action_space, gym.spaces.Box):
            # The episode holds the module's actions; the env got them unsquashed/clipped.
            if config.normalize_actions:
                actions = [unsquash_action(a, action_space) for a in actions]
            elif config.clip_actions:
                actions = [clip_action(a, action_space) for a in actions]
        episodes.append(
            _episode_from_steps(
                list(episode.get_observations()),
                actions,
                list(episode.get_rewards()),
                list(episode.get_infos())[1:],
                episode.is_terminated,
                episode.is_truncated,
                obs_dim,
            )
        )
    return path, env_id, env_config, episodes


def collect(
    out: str | Path,
    *,
    policy: str,
    num_episodes: int,
    env: str | None = None,
    env_config: dict[str, Any] | None = None,
    epsilon: float = 0.0,
    seed: int | None = 0,
) -> DatasetCard:
    """Roll out ``policy`` (``"random"`` or a checkpoint path) and write the dataset.

    ``env``/``env_config`` are needed for the random policy; a checkpoint brings its
    own (``env``, when given, must match it).
    """
    if num_episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {num_episodes}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"--epsilon must be in [0, 1], got {epsilon}")
    if (Path(out) / CARD_FILE).exists():
        raise DatasetError(f"{out} already holds a dataset ({CARD_FILE}); pick another --out")
    if policy == RANDOM_POLICY:
        if env is None:
            raise ValueError("collect with the random policy needs --env")
        env_config = dict(env_config or {})
        episodes = random_episodes(env, env_config, num_episodes, seed)
        behaviour = {"kind": "random", "checkpoint": None, "epsilon": 1.0}
    else:
        checkpoint, checkpoint_env, env_config, episodes = checkpoint_episodes(
            policy, num_episodes, epsilon, seed
        )
        if env is not None and env != checkpoint_env:
            raise ValueError(f"--env {env} does not match the checkpoint's env {checkpoint_env}")
        env = checkpoint_env
        behaviour = {"kind": "checkpoint", "checkpoint": str(checkpoint), "epsilon": epsilon}
    action_space = describe_action_space(env_spaces(env, env_config)[1])
    return write_dataset(
        out,
        episodes,
        env=env,
        env_config=env_config,
        behaviour_policy=behaviour,
        action_space=action_space,
        seed=seed,
    )
