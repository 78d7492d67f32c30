"""``BeliefObservationEnv``: a DLCMDP env whose observation carries the belief
(BOReL's state relabelling at test time; docs/offline.md).

The offline policy is trained on observations relabelled with the belief model's
belief (:func:`~rllib_dynamite.offline.belief.relabel`). Evaluated online, it must see
the same thing, so this env runs the trained encoder alongside the env: after each
step it feeds ``(s_{t+1}, a_t, r_{t+1})`` to the GRU and returns
``[s_t, normalised (μ_{t-1}, log σ²_{t-1})]``, exactly the relabelled layout.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rllib_dynamite.envs import make

BELIEF_MEAN = "belief_mean"
BELIEF_LOGVAR = "belief_logvar"
TERMINATION_LOGIT = "termination_logit"


def belief_features(module: Any, belief_mean: torch.Tensor, belief_logvar: torch.Tensor) -> Any:
    """The policy's belief input: ``(μ, log σ²)`` [..., 2D], normalised with the module's
    running statistics (set by :func:`~rllib_dynamite.offline.belief.relabel`)."""
    return module.belief_normalizer(torch.cat([belief_mean, belief_logvar], dim=-1))


class BeliefObservationEnv(gym.Env):
    """A registered env with the belief appended to its observation.

    Args:
        config: ``{"env": id, "env_config": {...}, "belief_model": path}``: the env and
            its keyword arguments, and a saved belief model
            (:class:`~rllib_dynamite.rl_module.DynamiteRLModule`, ``save_to_path``).

    ``info`` gains ``belief_mean``, ``belief_logvar`` (after the transition just seen;
    at reset, ``b_{-1}``) and ``termination_logit`` (that the transition opened a new
    session).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        from ray.rllib.core.rl_module.rl_module import RLModule

        self.env = make(config["env"], **dict(config.get("env_config", {})))
        self.module = RLModule.from_checkpoint(config["belief_model"])
        self.module.eval()
        self.action_space = self.env.action_space
        self.discrete = isinstance(self.action_space, gym.spaces.Discrete)
        self.obs_dim = int(np.prod(self.env.observation_space.shape))
        belief_dim = self.module.belief_normalizer.mean.shape[0]  # (μ, log σ²): 2D
        size = self.obs_dim + belief_dim
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self._hidden = torch.zeros(1, self.module.gru_hidden_dim)

    def _step_encoder(self, obs: np.ndarray, action: Any, reward: float) -> tuple:
        if self.discrete:
            action_features = np.zeros(int(self.action_space.n), np.float32)
            if action is not None:
                action_features[int(action)] = 1.0
        else:
            action_features = np.zeros(int(np.prod(self.action_space.shape)), np.float32)
            if action is not None:
                action_features = np.asarray(action, np.float32).reshape(-1)
        s = np.asarray(obs, np.float32).reshape(-1)
        encoder_input = np.concatenate([s, action_features, [np.float32(reward)]])
        with torch.no_grad():
            encoded = self.module.encode(
                torch.from_numpy(encoder_input.astype(np.float32))[None, None], self._hidden
            )
            self._hidden = encoded.final_state
            features = belief_features(self.module, encoded.belief_mean, encoded.belief_logvar)
        info = {
            BELIEF_MEAN: encoded.belief_mean[0, 0].numpy().copy(),
            BELIEF_LOGVAR: encoded.belief_logvar[0, 0].numpy().copy(),
            TERMINATION_LOGIT: float(encoded.termination_logit[0, 0]),
        }
        return np.concatenate([s, features[0, 0].numpy()]).astype(np.float32), info

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        obs, info = self.env.reset(seed=seed, options=options)
        self._hidden = torch.zeros(1, self.module.gru_hidden_dim)
        augmented, belief_info = self._step_encoder(obs, None, 0.0)
        return augmented, {**info, **belief_info}

    def step(self, action: Any) -> tuple:
        obs, reward, terminated, truncated, info = self.env.step(action)
        augmented, belief_info = self._step_encoder(obs, action, reward)
        return augmented, reward, terminated, truncated, {**info, **belief_info}

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()
