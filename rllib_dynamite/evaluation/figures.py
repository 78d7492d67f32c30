"""Pictures of the belief along an evaluation episode (docs/usage.md, "What the pictures show").

The belief is a learned latent, not a distribution over the env's latent, so each
picture decodes it into the env's terms:

- GridNavi: for every cell ``c``, the reward decoder's probability that staying on
  ``c`` is rewarded, given the belief mean, ``sigmoid(decoder(μ_t, (c, stay, c)))``,
  normalised over the 25 cells into a belief over the goal cell. Snapshots along the
  episode show that map with the true goal (star) and the agent (dot); below, the
  belief's mass on the true goal cell over time against chance (1/21), the
  termination head's probability, and the true session boundaries (dashed).
- Every other env: a linear read-out of the true latent from the belief mean,
  least-squares fitted over all evaluation steps, drawn against the true latent
  over time, one panel per latent dimension, with the session boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rllib_dynamite.evaluation.metrics import switch_steps
from rllib_dynamite.evaluation.records import EpisodeRecord

GRIDWORLDS = (
    "rllib_dynamite/GridNavi-v0",
    "rllib_dynamite/PaperGridNavi-v0",
    "rllib_dynamite/TwoGoalGridNavi-v0",
)
SNAPSHOTS = 8


def belief_figure(
    env_id: str,
    episodes: Sequence[EpisodeRecord],
    module: Any,
    readout: np.ndarray,
    binary_reward: bool,
) -> Figure:
    """The picture for ``env_id``, drawn for the episode with the most session switches.

    ``binary_reward``: the reward decoder predicts ``P(r > 0)`` (GridNavi's default).
    """
    episode = max(episodes, key=lambda e: len(switch_steps(e.session_ids)))
    if env_id in GRIDWORLDS and binary_reward:
        return gridnavi_belief_figure(episode, module)
    return latent_readout_figure(episode, readout)


def goal_probabilities(module: Any, belief_mean: np.ndarray, grid_size: int) -> np.ndarray:
    """[T+1, grid, grid] (indexed ``[t, y, x]``): the belief over the goal cell given each
    belief mean [T+1, D]: the reward decoder's ``P(r > 0)`` for staying on each cell,
    normalised over the cells."""
    xs, ys = np.meshgrid(np.arange(grid_size), np.arange(grid_size))
    cells = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32))
    stay = torch.zeros(len(cells), module.action_dim)
    stay[:, 0] = 1.0
    latent = torch.as_tensor(belief_mean, dtype=torch.float32)
    with torch.no_grad():
        logits = module.decode_reward(latent[None], cells[None], stay[None], cells[None])[0]
    probabilities = torch.sigmoid(logits).numpy()
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities.reshape(-1, grid_size, grid_size)


def gridnavi_belief_figure(episode: EpisodeRecord, module: Any) -> Figure:
    """Belief over goal cells along a GridNavi episode (see the module docstring)."""
    grid_size = 5
    probabilities = goal_probabilities(module, episode.belief_mean, grid_size)
    horizon = len(episode.rewards)
    switches = switch_steps(episode.session_ids)
    figure = Figure(figsize=(2.0 * SNAPSHOTS, 5.2), layout="constrained")
    grid = figure.add_gridspec(2, SNAPSHOTS, height_ratios=[1.0, 0.9])
    steps = np.linspace(0, horizon - 1, SNAPSHOTS).round().astype(int)
    top = float(probabilities[steps + 1].max())
    for column, t in enumerate(steps):
        axis = figure.add_subplot(grid[0, column])
        image = axis.imshow(probabilities[t + 1], origin="lower", vmin=0.0, vmax=top)
        goal = episode.latents[t]
        position = episode.states[t + 1]
        axis.plot(goal[0], goal[1], marker="*", color="red", markersize=14, ls="none")
        axis.plot(position[0], position[1], marker="o", color="white", markersize=7, ls="none")
        axis.set_title(f"t={t}  session {episode.session_ids[t]}", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.colorbar(image, ax=figure.axes, shrink=0.8, label="belief over the goal cell")

    axis = figure.add_subplot(grid[1, :])
    steps_all = np.arange(horizon)
    true_goal = episode.latents.astype(int)
    on_true_goal = probabilities[steps_all + 1, true_goal[:, 1], true_goal[:, 0]]
    axis.plot(steps_all, on_true_goal, label="belief on the true goal cell")
    axis.axhline(1 / 21, color="grey", lw=1, ls=":", label="chance (1/21)")
    if episode.termination_logits is not None:
        termination = 1.0 / (1.0 + np.exp(-episode.termination_logits))
        axis.plot(steps_all, termination, label="P(session ends), termination head")
    axis.fill_between(
        steps_all, 0, 1, where=episode.rewards > 0, step="mid", color="green", alpha=0.15,
        label="agent on the goal",
    )  # fmt: skip
    _mark_sessions(axis, switches)
    axis.set_xlabel("step t (belief after transition t)")
    axis.set_xlim(0, horizon - 1)
    axis.set_ylim(0, 1)
    axis.legend(loc="upper right", fontsize=8)
    figure.suptitle("GridNavi: belief over goal cells (star: true goal, dot: agent)")
    return figure


def latent_readout_figure(episode: EpisodeRecord, readout: np.ndarray) -> Figure:
    """True latent against its linear read-out from the belief, over one episode."""
    features = np.concatenate([episode.belief_mean[1:], np.ones((len(episode.rewards), 1))], axis=1)
    decoded = features @ readout
    latent_dim = episode.latents.shape[1]
    figure = Figure(figsize=(10, 2.2 * latent_dim + 0.8), layout="constrained")
    axes = figure.subplots(latent_dim, 1, sharex=True, squeeze=False)[:, 0]
    steps = np.arange(len(episode.rewards))
    for dim, axis in enumerate(axes):
        axis.plot(steps, episode.latents[:, dim], color="black", label="true latent")
        axis.plot(steps, decoded[:, dim], color="tab:blue", label="read-out from belief")
        _mark_sessions(axis, switch_steps(episode.session_ids))
        axis.set_ylabel(f"latent[{dim}]")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("step t (belief after transition t)")
    figure.suptitle("Decoded latent (linear read-out of the belief mean) vs true latent")
    return figure


def figure_to_image(figure: Figure, dpi: int = 72) -> np.ndarray:
    """Render to a uint8 [3, H, W] array (TensorBoard's CHW image layout)."""
    canvas = FigureCanvasAgg(figure)
    figure.set_dpi(dpi)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., :3].transpose(2, 0, 1))


def _mark_sessions(axis: Any, switches: np.ndarray) -> None:
    for index, step in enumerate(switches):
        axis.axvline(
            step, color="red", ls="--", lw=1, label="session boundary" if not index else None
        )
