"""How many belief-model updates does an env's latent take to learn, on the episodes a
trained policy plays? Any env; no RL (``rllib-dynamite diagnose belief-fit``).

A trained belief-method trial (``dynamite``, ``varibad``, …) plays ``episodes``
episodes with sampled actions, as in training (``Evaluator``, seeded). A fresh module of
the same preset and settings then trains its belief model alone (``learner.vae_loss``,
the run's weights, learning rate, batch size and clip) on those episodes, and every
``every`` updates this reports, on ``held_out`` further episodes of the same policy:

- the linear read-out R² of the true latent from the belief mean (what
  ``evaluation/belief_readout_r2`` reports during training);
- the reconstruction loss with each episode's own beliefs and with another episode's
  (``shuffled``): the gap is what the belief tells the decoder about this episode;
- after a switch, from its 20th step on, the weights of the new session's latent and of
  the previous one in what the first-session read-out decodes from the belief
  (``metrics.follows_switch``: 1 / 0 follows the switch, 0 / 1 holds the old latent);
- with a termination head, its F1 against the true session starts.

``losses=("dynamite", "varibad", "no_masking")`` trains one fresh belief model per named
preset on the very same episodes, each with that preset's loss switches (docs/method.md
§4) on top of the trial's settings: an ablation of the losses that holds the data fixed.
The trial must have every module part a preset needs (a ``dynamite`` trial has them
all; a ``varibad`` trial has no termination head).

The training run itself takes ``vae_updates_per_iteration`` such updates per iteration
(one at the MuJoCo defaults), on the episodes of a policy that changes as it goes; this
holds the behaviour fixed and asks only how fast the belief model learns from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rllib_dynamite.analysis.playback import checkpoint_evaluator
from rllib_dynamite.config import PRESET_SETTINGS
from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.evaluation.metrics import follows_switch, linear_readout
from rllib_dynamite.learner import vae_loss
from rllib_dynamite.offline.belief import EpisodeTensors, train_belief_model


def belief_presets() -> tuple[str, ...]:
    """The presets with a belief model (a VAE): their loss switches can train one."""
    return tuple(n for n, over in PRESET_SETTINGS.items() if over.get("use_vae", True))


def collect(
    evaluator: Evaluator, count: int
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, dict[str, np.ndarray]]:
    """``count`` episodes of the policy, sampled actions: augmented observations
    [N, T+1, F], session ids [N, T], latents [N, T, L], and every ``reward*`` entry of
    the step infos (the env's reward terms) [N·T]. Episodes must share a length."""
    episodes = evaluator._runner.sample(num_episodes=count, explore=True)[:count]
    observations, session_ids, latents = [], [], []
    terms: dict[str, list[float]] = {}
    for episode in episodes:
        infos = episode.get_infos()[1:]
        observations.append(np.asarray(episode.get_observations(), dtype=np.float32))
        session_ids.append([info["session_id"] for info in infos])
        latents.append([np.asarray(info["latent"], dtype=np.float64) for info in infos])
        for info in infos:
            for key, value in info.items():
                if key.startswith("reward"):
                    terms.setdefault(key, []).append(float(value))
    return (
        torch.as_tensor(np.stack(observations)),
        torch.as_tensor(np.array(session_ids)),
        np.array(latents),
        {key: np.array(values) for key, values in terms.items()},
    )


def report_reward(
    obs: torch.Tensor, latents: np.ndarray, terms: dict[str, np.ndarray], env: object
) -> None:
    """Print the per-step reward's variance and each reward term's; on ScratchItch also
    the part of the distance term that depends on the itch once the tool's position is
    known: E[(d(tool, itch) − mean over other itches of d(tool, itch'))²]."""
    rewards = obs[:, 1:, -1].reshape(-1).numpy()
    print(f"per-step reward: mean {rewards.mean():.4f}, variance {rewards.var():.5f}")
    for key, values in sorted(terms.items()):
        print(f"  {key}: mean {values.mean():.4f}, variance {values.var():.5f}")
    env = getattr(env, "unwrapped", env)
    tool_position = getattr(env, "tool_position_slice", None)  # ScratchItch's
    if tool_position is None:
        return
    tool = obs[:, 1:, tool_position].reshape(-1, 3).numpy().astype(np.float64)
    itch = latents.reshape(-1, latents.shape[-1])
    others = itch[np.random.default_rng(0).choice(len(itch), 300)]
    distance = np.linalg.norm(tool - itch, axis=1)
    expected = np.linalg.norm(tool[:, None] - others[None], axis=2).mean(axis=1)
    print(
        f"  itch-dependent variance of the distance term: {((distance - expected) ** 2).mean():.5f}"
    )


def readout_and_gap(
    module: torch.nn.Module,
    settings: object,
    obs: torch.Tensor,
    session_ids: torch.Tensor,
    latents: np.ndarray,
) -> dict[str, float]:
    """On held-out data: ``r2``, reconstruction with own beliefs (``own``) and with
    shuffled ones (``shuffled``), the new and old latent's weights after a switch
    (``new_weight_settled``, ``old_weight_settled``) and the termination head's ``f1``
    (NaN without one)."""
    valid = torch.ones_like(session_ids, dtype=torch.bool)
    with torch.no_grad():
        encoded = module.encode(obs, torch.zeros(obs.shape[0], module.gru_hidden_dim))
        beliefs = encoded.belief_mean[:, 1:].numpy()
        _, _, r2 = linear_readout(
            beliefs.reshape(-1, beliefs.shape[-1]), latents.reshape(-1, latents.shape[-1])
        )
        switch = follows_switch(list(beliefs), list(latents), list(session_ids.numpy()))
        torch.manual_seed(0)
        terms = vae_loss(module, obs, session_ids, valid, settings, 1.0)
        own = terms["reconstruction_loss"]
        # Another episode's beliefs: roll the batch by one for the encoder's output only,
        # by decoding this episode's transitions under the next episode's beliefs.
        torch.manual_seed(0)
        original = module.encode
        module.encode = lambda o, s, **k: _rolled(original(o, s, **k))  # type: ignore[method-assign]
        try:
            shuffled = vae_loss(module, obs, session_ids, valid, settings, 1.0)[
                "reconstruction_loss"
            ]
        finally:
            module.encode = original  # type: ignore[method-assign]
    return {
        "r2": r2,
        "own": float(own),
        "shuffled": float(shuffled),
        "new_weight_settled": switch["new_weight_settled"],
        "old_weight_settled": switch["old_weight_settled"],
        "f1": float(terms.get("termination_f1", float("nan"))),
    }


def _rolled(encoded: object) -> object:
    return encoded._replace(  # type: ignore[attr-defined]
        belief_mean=encoded.belief_mean.roll(1, dims=0),  # type: ignore[attr-defined]
        belief_logvar=encoded.belief_logvar.roll(1, dims=0),  # type: ignore[attr-defined]
    )


def fit_beliefs(
    trial: str | Path,
    episodes: int = 400,
    held_out: int = 50,
    updates: int = 2000,
    every: int = 200,
    seed: int = 0,
    clip_reward: float | None = None,
    scale_reward: float = 1.0,
    losses: Sequence[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> None:
    """The diagnostic (module docstring) on the checkpoint at or under ``trial``: print
    the reward's terms, then, per belief model (the trial's own losses, or one per preset
    of ``losses``), its report every ``every`` updates. ``clip_reward`` clips the rewards
    (the encoder's input and the decoder's target) to ±C, ``scale_reward`` then multiplies
    them; ``overrides`` replaces belief-model settings (``{"vae_lr": 3e-3}``).

    Raises:
        ValueError: a name of ``losses`` is not a belief-model preset, or needs a module
            part the trial lacks; an override names no setting.
        FileNotFoundError: no checkpoint at or under ``trial``.
    """
    variants: list[str | None] = list(losses) if losses else [None]
    presets = belief_presets()
    for name in variants:
        if name is not None and name not in presets:
            raise ValueError(
                f"--losses: {name!r} is not a belief-model preset; one of {sorted(presets)}"
            )
    with checkpoint_evaluator(trial, seed) as evaluator:
        for name in variants:
            if (
                name
                and PRESET_SETTINGS[name].get("termination_head", True)
                and not evaluator.settings.termination_head
            ):
                raise ValueError(
                    f"--losses {name}: the trial's module has no termination head "
                    "(train on a dynamite trial's episodes)"
                )
        obs, session_ids, latents, terms = collect(evaluator, episodes + held_out)
        sub_envs = getattr(evaluator._runner.env.unwrapped, "envs", [None])
        report_reward(obs, latents, terms, sub_envs[0])
        spec = evaluator.config.get_rl_module_spec(
            spaces=evaluator._runner.get_spaces(), inference_only=False
        )
        settings = evaluator.settings
    if clip_reward is not None:
        obs[..., -1] = obs[..., -1].clamp(-clip_reward, clip_reward)
    obs[..., -1] *= scale_reward
    known = {f.name for f in dataclasses.fields(settings)}
    unknown = sorted(set(overrides or {}) - known)
    if unknown:
        raise ValueError(f"--set: no setting named {unknown}")
    settings = dataclasses.replace(dataclasses.replace(settings, **(overrides or {})), seed=seed)
    for name in variants:
        variant = dataclasses.replace(settings, **PRESET_SETTINGS[name]) if name else settings
        fit(spec, variant, obs, session_ids, latents, episodes, updates, every, seed,
            label=name or Path(trial).name)  # fmt: skip


def fit(
    spec: Any,
    settings: Any,
    obs: torch.Tensor,
    session_ids: torch.Tensor,
    latents: np.ndarray,
    episodes: int,
    updates: int,
    every: int,
    seed: int,
    label: str,
) -> None:
    """Train one fresh belief model (``spec.build()``) on the first ``episodes`` episodes,
    printing its :func:`readout_and_gap` on the rest every ``every`` updates."""
    torch.manual_seed(seed)
    module = spec.build()
    train, test = slice(0, episodes), slice(episodes, None)
    data = EpisodeTensors(
        obs[train], session_ids[train], torch.ones_like(session_ids[train], dtype=torch.bool), True
    )
    print(
        f"{label}: {episodes} episodes, batches of {settings.vae_batch_episodes}, "
        f"vae_lr {settings.vae_lr}, kl_weight {settings.kl_weight}"
    )
    print(
        "updates | readout R² | reconstruction (own) | (shuffled) | after a switch: new | old "
        "| termination F1"
    )

    def report(done: int) -> None:
        row = readout_and_gap(module, settings, obs[test], session_ids[test], latents[test])
        print(
            f"{done} | {row['r2']:.3f} | {row['own']:.4f} | {row['shuffled']:.4f} | "
            f"{row['new_weight_settled']:.3f} | {row['old_weight_settled']:.3f} | "
            f"{row['f1']:.3f}",
            flush=True,
        )

    report(0)
    if updates:
        # The offline pipeline's trainer (one Adam, batches of vae_batch_episodes); its log
        # hook runs after each step, so step + 1 updates have been taken.
        train_belief_model(
            module, data, settings, steps=updates, log_interval=1,
            log=lambda step, _: (step + 1) % every == 0 and report(step + 1),
        )  # fmt: skip
