"""What the belief model does inside a session, for trained gridworld trials
(``rllib-dynamite diagnose belief-steps``).

For each trial (a Tune trial directory of ``rllib-dynamite tune``) it reports:

- each VAE term as it enters the total (the term times its weight), averaged over the
  last ``last`` training iterations of ``progress.csv``;
- how far the belief moves per step, mean KL(b_t ‖ b_{t-1}), inside a session and at
  the first step of a new one;
- how often the consistency hinge is active (δ_{t+1} > δ_t inside a session, with
  δ_t = KL(b_t ‖ b_e(t))) and the mean hinge sum per episode;
- the belief's accuracy by steps since the session began: the probability that the
  reward decoder, under the belief mean after x_t, puts on the true goal cell of x_t;
- on the two-goal gridworlds, that accuracy at the decision that needs a belief
  (``accuracy_moved``): the agent stands on the goal cell that is no longer the goal.
  ``diagnose switch-value`` gives the accuracy above which leaving it pays; and the
  policy's probability of staying there (``stay_moved``), against staying on the goal
  that is active (``stay_active``): a policy that reads its belief leaves the first;
  and how far apart the two situations reach the policy (``input_gap``: the mean over
  belief dimensions of the difference of the normalised belief's means);
- the return of the greedy policy (on whose episodes the rest is measured) and of the
  same policy with sampled actions, on the same episodes.

Rows are averaged over seeds per env and method (the preset and its ``consistency_*``
settings).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rllib_dynamite.analysis.playback import play_trials
from rllib_dynamite.config import resolve_settings
from rllib_dynamite.envs import make
from rllib_dynamite.envs.gridnavi import GRID_SIZE, MOVES
from rllib_dynamite.evaluation import EpisodeRecord, EvaluationReport, Evaluator
from rllib_dynamite.evaluation.figures import goal_probabilities
from rllib_dynamite.evaluation.metrics import switch_steps
from rllib_dynamite.trials import Trial

LEARNER = "learners/default_policy/"
TERMS = ("reconstruction_loss", "kl_loss", "consistency_loss", "termination_loss")
# Pooled per-step vectors, reduced to ``input_gap`` in ``belief_steps``.
INPUT_MOVED, INPUT_ACTIVE = "_input_moved", "_input_active"
STEP_BINS = ((0, 0), (1, 2), (3, 5), (6, 10), (11, 20), (21, 10**6))


def gaussian_kl(
    mean_q: np.ndarray, logvar_q: np.ndarray, mean_p: np.ndarray, logvar_p: np.ndarray
) -> np.ndarray:
    """KL(q ‖ p) of diagonal Gaussians over the last axis."""
    return 0.5 * np.sum(
        logvar_p - logvar_q + (np.exp(logvar_q) + (mean_q - mean_p) ** 2) / np.exp(logvar_p) - 1,
        axis=-1,
    )


def weighted_terms(progress: pd.DataFrame, settings: Any, last: int) -> dict[str, float]:
    """Each VAE term of a trial's ``progress`` times its weight, mean over the last
    ``last`` iterations."""
    progress = progress.tail(last)
    weights = {
        "reconstruction_loss": 1.0,
        "kl_loss": settings.kl_weight,
        "consistency_loss": settings.consistency_weight,
        "termination_loss": settings.termination_weight,
    }
    return {
        term: float(progress[LEARNER + "vae_" + term].mean() * weights[term])
        for term in TERMS
        if LEARNER + "vae_" + term in progress
    }


def normalised_belief(module: Any, mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """The belief as the policy sees it, through the module's running normaliser."""
    belief = torch.as_tensor(np.concatenate([mean, logvar], axis=-1), dtype=torch.float32)
    with torch.no_grad():
        return module.belief_normalizer(belief).numpy()


def stay_probability(
    module: Any, states: np.ndarray, mean: np.ndarray, logvar: np.ndarray
) -> np.ndarray:
    """The policy's probability of ending its next step on the cell it stands on, from
    each state and belief: "stay", and every move into the grid's wall."""
    belief = torch.as_tensor(np.concatenate([mean, logvar], axis=-1), dtype=torch.float32)
    obs = torch.as_tensor(states, dtype=torch.float32)
    with torch.no_grad():
        logits = module.pi_head(module.pi(module._rl_input(obs, belief)))
    probabilities = torch.softmax(logits, dim=-1).numpy()
    cells = states[:, :2].astype(int)
    moves = np.asarray(MOVES)
    reached = np.clip(cells[:, None, :] + moves[None], 0, GRID_SIZE - 1)
    in_place = (reached == cells[:, None, :]).all(-1)
    return (probabilities * in_place).sum(-1)


def episode_statistics(
    episode: EpisodeRecord, module: Any, goal_cells: np.ndarray | None = None
) -> dict[str, list[float]]:
    """Per-step belief movement, hinge activity and goal accuracy of one episode;
    with the env's ``goal_cells`` [G, 2] of a two-goal gridworld, also the accuracy
    where the agent stands on the goal cell that is not the goal."""
    mean, logvar = episode.belief_mean[1:], episode.belief_logvar[1:]  # b_0 .. b_{T-1}
    session_ids = episode.session_ids
    starts = np.concatenate([[0], switch_steps(session_ids)])
    start_of = starts[np.searchsorted(starts, np.arange(len(session_ids)), side="right") - 1]
    ends = np.concatenate([starts[1:] - 1, [len(session_ids) - 1]])
    end_of = ends[np.searchsorted(starts, np.arange(len(session_ids)), side="right") - 1]
    movement = gaussian_kl(mean[1:], logvar[1:], mean[:-1], logvar[:-1])  # KL(b_t ‖ b_{t-1})
    same_session = session_ids[1:] == session_ids[:-1]
    delta = gaussian_kl(mean, logvar, mean[end_of], logvar[end_of])
    hinge = np.maximum(delta[1:] - delta[:-1], 0.0)[same_session]
    probabilities = goal_probabilities(module, episode.belief_mean, GRID_SIZE)[1:]
    goals = episode.latents.astype(int)
    on_goal = probabilities[np.arange(len(goals)), goals[:, 1], goals[:, 0]]
    statistics: dict[str, list[float]] = {
        "move_within": list(movement[same_session]),
        "move_at_start": list(movement[~same_session]),
        "hinge_active": list((hinge > 0).astype(float)),
        "hinge_sum": [float(hinge.sum())],
    }
    since_start = np.arange(len(session_ids)) - start_of
    for low, high in STEP_BINS:
        chosen = (since_start >= low) & (since_start <= high)
        statistics[f"accuracy_{low}"] = list(on_goal[chosen])
    if goal_cells is not None and len(goal_cells) == 2:
        cells = episode.states[1:, :2].astype(int)  # the cell x_t ends on
        on_a_goal = (cells[:, None, :] == goal_cells[None].astype(int)).all(-1).any(-1)
        moved = on_a_goal & (cells != goals).any(-1)
        statistics["accuracy_moved"] = list(on_goal[moved])
        # The policy at step t+1 reads s_{t+1} and the belief after x_t.
        stay = stay_probability(
            module, episode.states[1:], episode.belief_mean[1:], episode.belief_logvar[1:]
        )
        statistics["stay_moved"] = list(stay[moved])
        statistics["stay_active"] = list(stay[on_a_goal & ~moved])
        shown = normalised_belief(module, episode.belief_mean[1:], episode.belief_logvar[1:])
        statistics[INPUT_MOVED] = list(shown[moved])
        statistics[INPUT_ACTIVE] = list(shown[on_a_goal & ~moved])
    return statistics


def belief_steps(
    trial: Trial, evaluator: Evaluator, report: EvaluationReport, episodes: int, last: int
) -> dict[str, float]:
    """Every measurement of one trial (module docstring); ``report`` is the evaluator's
    greedy evaluation of ``episodes`` episodes."""
    config = _params(trial)
    settings = resolve_settings(config["env"], config["preset"], **config["settings"])
    row = {f"{k} (weighted)": v for k, v in weighted_terms(trial.progress, settings, last).items()}
    pooled: dict[str, list[float]] = defaultdict(list)
    env = make(config["env"], **config["settings"].get("env_config", {}))
    goal_cells = getattr(env.unwrapped, "goal_cells", None)
    for episode in report.episodes:
        for key, values in episode_statistics(episode, evaluator.module, goal_cells).items():
            pooled[key].extend(values)
    sampled = evaluator.evaluate(episodes, with_figure=False, explore=True)
    row["return"] = float(report.metrics["episode_return_mean"])
    row["return (sampled actions)"] = float(sampled.metrics["episode_return_mean"])
    moved, active = pooled.pop(INPUT_MOVED, []), pooled.pop(INPUT_ACTIVE, [])
    if moved and active:  # mean |difference| per dimension of what the policy is shown
        row["input_gap"] = float(np.abs(np.mean(moved, 0) - np.mean(active, 0)).mean())
    row.update(
        {key: float(np.mean(values)) if values else np.nan for key, values in pooled.items()}
    )
    return row


def _params(trial: Trial) -> dict[str, Any]:
    """The trial's config as Tune wrote it (nested ``settings``)."""
    return json.loads((trial.path / "params.json").read_text())


def method_label(trial: Trial) -> str:
    """The preset and its ``consistency_*`` settings: ``dynamite consistency_weight=1.0``."""
    config = _params(trial)
    return config["preset"] + "".join(
        f" {k}={v}" for k, v in sorted(config["settings"].items()) if k.startswith("consistency_")
    )


def print_belief_steps(
    results: Iterable[str | Path],
    presets: Iterable[str] = ("dynamite", "no_consistency"),
    episodes: int = 200,
    seed: int = 0,
    last: int = 20,
    csv: str | Path | None = None,
) -> pd.DataFrame:
    """Measure every finished trial of ``presets`` under ``results`` (:func:`belief_steps`),
    print each one's return as it comes, then the means per env and method; with ``csv``
    also write every trial's row there. Returns the per-trial table.

    Raises:
        FileNotFoundError: no finished trial of ``presets`` under ``results``.
    """
    presets = list(presets)

    def measure(trial: Trial, evaluator: Evaluator, report: EvaluationReport) -> dict[str, float]:
        return belief_steps(trial, evaluator, report, episodes, last)

    def keep(trial: Trial) -> bool:
        return trial.config["preset"] in presets

    rows = []
    for played in play_trials(results, measure, episodes, seed, keep=keep):
        if played.skipped is not None:
            print(f"{played.name}: left out ({played.skipped})")
            continue
        trial = played.trial
        rows.append({"env": trial.env, "method": method_label(trial),
                     "seed": _params(trial)["settings"]["seed"], **played.row})  # fmt: skip
        print(f"{played.name}: return {played.row['return']:.2f}", flush=True)
    if not rows:
        raise FileNotFoundError(f"no finished trial of {presets} under the given directories")
    table = pd.DataFrame(rows)
    if csv:
        table.to_csv(csv, index=False)
    summary = table.drop(columns="seed").groupby(["env", "method"]).mean()
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        print(summary.T.round(4).to_string())
    return table
