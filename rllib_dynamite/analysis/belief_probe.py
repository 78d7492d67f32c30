"""Can the belief model learn GridNavi's goal at all, without any RL?
(``rllib-dynamite diagnose belief-probe``)

Trains only the belief model (``learner.vae_loss``, the preset's switches) of a fresh
module on episodes of a uniformly random policy and reports, every 200 updates, how
often the reward decoder's most likely goal cell under the belief mean is the true goal:
on the steps where the agent has just been paid (it stands on the goal), and on all
steps. Where this fails, no policy can make the belief useful; ``diagnose belief-fit``
asks the same on a trained policy's episodes, on any env.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

import rllib_dynamite.envs as envs
from rllib_dynamite.config import _module_model_config, resolve_settings
from rllib_dynamite.connectors import PrevActionRewardObservation
from rllib_dynamite.learner import vae_loss
from rllib_dynamite.rl_module import DynamiteRLModule

GRID = "rllib_dynamite/GridNavi-v0"
CELLS = torch.tensor([[x, y] for x in range(5) for y in range(5)], dtype=torch.float32)
REPORT_EVERY = 200  # updates between reports
SCORED_EPISODES = 100  # the first episodes, on which the goal accuracy is measured


def random_episodes(
    env: gym.Env, count: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` random-policy episodes: obs [N, T+1, F], session ids [N, T], goals [N, T, 2]."""
    observations, session_ids, goals = [], [], []
    for episode in range(count):
        obs, _ = env.reset(seed=episode)
        prev_action, prev_reward = np.zeros(5), 0.0
        rows, sessions, latents = [], [], []
        for _ in range(env.unwrapped.H):
            rows.append(np.concatenate([obs, prev_action, [prev_reward]]))
            latents.append(env.unwrapped.latent.copy())
            action = int(rng.integers(5))
            obs, prev_reward, _, _, info = env.step(action)
            prev_action = np.eye(5)[action]
            sessions.append(info["session_id"])
        rows.append(np.concatenate([obs, prev_action, [prev_reward]]))
        observations.append(rows), session_ids.append(sessions), goals.append(latents)
    return (
        torch.tensor(np.array(observations), dtype=torch.float32),
        torch.tensor(np.array(session_ids)),
        torch.tensor(np.array(goals), dtype=torch.float32),
    )


def goal_accuracy(
    module: DynamiteRLModule, obs: torch.Tensor, goals: torch.Tensor
) -> tuple[float, float]:
    """Share of steps whose decoded goal cell is the true goal: (on-goal steps, all)."""
    with torch.no_grad():
        encoded = module.encode(obs, torch.zeros(obs.shape[0], module.gru_hidden_dim))
        cells = CELLS[None].expand(obs.shape[0], -1, -1)
        stay = torch.eye(5)[[0] * 25][None].expand(obs.shape[0], -1, -1)
        logits = module.decode_reward(encoded.belief_mean, cells, stay, cells)
    predicted = CELLS[logits.argmax(-1)[:, 1:]]  # belief after x_t, for x_t's goal
    correct = (predicted == goals).all(-1)
    on_goal = obs[:, 1:, -1] > 0
    return correct[on_goal].float().mean().item(), correct.float().mean().item()


def probe_belief_model(
    preset: str = "dynamite",
    updates: int = 2000,
    episodes: int = 400,
    overrides: dict[str, Any] | None = None,
) -> None:
    """Train the belief model of a fresh ``preset`` module (its settings on GridNavi, with
    ``overrides``, e.g. ``{"env_config": {"p": 0.0}, "vae_lr": 3e-3}``) for ``updates``
    updates on ``episodes`` random-policy episodes, printing the reconstruction loss and
    the goal accuracy every 200 updates.

    Raises:
        ConfigError: an unknown preset or setting (a ``ValueError``).
    """
    settings = resolve_settings(GRID, preset, **(overrides or {}))
    torch.manual_seed(0)
    env = envs.make(GRID, **settings.env_kwargs)
    space = PrevActionRewardObservation().recompute_output_observation_space(
        env.observation_space, env.action_space
    )
    module = DynamiteRLModule(
        observation_space=space,
        action_space=env.action_space,
        model_config=_module_model_config(settings, env.unwrapped.H + 1),
    )
    obs, session_ids, goals = random_episodes(env, episodes, np.random.default_rng(0))
    valid = torch.ones_like(session_ids, dtype=torch.bool)
    parts = (module.encoder, module.reward_decoder, module.latent_prior)
    params = [p for part in parts for p in part.parameters()]
    optimizer = torch.optim.Adam(params, lr=settings.vae_lr)
    for update in range(updates + 1):
        index = torch.randint(0, episodes, (settings.vae_batch_episodes,))
        terms = vae_loss(
            module, obs[index], session_ids[index], valid[index], settings,
            settings.termination_pos_weight,
        )  # fmt: skip
        optimizer.zero_grad()
        terms["total"].backward()
        if settings.vae_grad_clip:
            torch.nn.utils.clip_grad_norm_(params, settings.vae_grad_clip)
        optimizer.step()
        if update % REPORT_EVERY == 0:
            scored = slice(0, SCORED_EPISODES)
            on_goal, overall = goal_accuracy(module, obs[scored], goals[scored])
            print(
                f"update {update:5d}  reconstruction {terms['reconstruction_loss'].item():6.3f}"
                f"  goal found: on-goal steps {on_goal:.2f}, all steps {overall:.2f}",
                flush=True,
            )
