"""The offline DynaMITE-RL pipeline (``rllib-dynamite offline``; method.md §5,
docs/offline.md):

1. train the belief model on the dataset (the online losses and switches);
2. relabel every step's observation with its belief (BOReL's state relabelling);
3. train an RLlib offline learner on the relabelled data;
4. evaluate the policy online, with the metrics of ``rllib-dynamite evaluate``.

Everything goes under one output directory::

    belief_model/      the trained DynamiteRLModule (RLModule checkpoint)
    relabelled/        the belief-augmented Parquet the offline learner read
    policy/            the offline learner's Algorithm checkpoint
    tensorboard/       belief/*, rl/* and evaluation/* scalars
    evaluation.json    the evaluation metrics (as ``rllib-dynamite evaluate --json``)
    run.json           dataset, preset, algorithm, every setting, final numbers
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from rllib_dynamite.config import ConfigError, make_config
from rllib_dynamite.experiments.trainable import EVALUATION_SEED_OFFSET
from rllib_dynamite.offline import belief
from rllib_dynamite.offline.belief_env import BeliefObservationEnv
from rllib_dynamite.offline.collect import env_spaces
from rllib_dynamite.offline.dataset import (
    EPISODES_PER_FILE,
    DatasetError,
    EpisodeArrays,
    OfflineDataset,
    episodes_to_table,
    read_dataset,
)
from rllib_dynamite.offline.evaluate import evaluate_policy
from rllib_dynamite.offline.rl import VALUE_TARGETS, offline_rl_config, returns_to_go
from rllib_dynamite.offline.settings import (
    BELIEF_PRESETS,
    OFFLINE_PRESETS,
    OfflineSettings,
    as_dict,
)

MODULE_ID = "default_policy"


@dataclass
class OfflineResult:
    """What :func:`run_offline` produced: the output directory, the learner used, the
    final belief-model terms (empty for ``bc``) and the evaluation metrics."""

    output: Path
    algorithm: str
    belief_terms: dict[str, float]
    metrics: dict[str, Any]


def write_relabelled(
    path: Path, episodes: list[EpisodeArrays], features: np.ndarray | None, gamma: float
) -> Path:
    """Write the offline learner's Parquet: ``obs`` = ``[s_t, belief features of b_{t-1}]``
    (``s_t`` alone without ``features``), RLlib's other columns, and each step's
    discounted return-to-go as ``value_targets``. The privileged labels stay out."""
    path.mkdir(parents=True, exist_ok=True)
    for number, start in enumerate(range(0, len(episodes), EPISODES_PER_FILE)):
        chunk = episodes[start : start + EPISODES_PER_FILE]
        relabelled = [
            EpisodeArrays(
                obs=episode.obs
                if features is None
                else np.concatenate([episode.obs, features[start + i, : len(episode) + 1]], 1),
                actions=episode.actions,
                rewards=episode.rewards,
                terminated=episode.terminated,
                truncated=episode.truncated,
            )
            for i, episode in enumerate(chunk)
        ]
        table = episodes_to_table(relabelled, first_episode_id=start)
        targets = np.concatenate([returns_to_go(e.rewards, gamma) for e in chunk])
        table = table.append_column(VALUE_TARGETS, pa.array(targets, type=pa.float32()))
        pq.write_table(table, path / f"part-{number:05d}.parquet")
    return path


def _check_labels(dataset: OfflineDataset, settings: Any, offline: OfflineSettings) -> None:
    needs_sessions = settings.use_vae and (
        settings.masking
        or settings.latent_conditioning
        or settings.consistency
        or settings.termination_head
    )
    if needs_sessions and not offline.no_session_labels and not dataset.has_session_labels:
        raise DatasetError(
            f"{dataset.path}: the dataset has no session labels; train with "
            "--no-session-labels (sessions from the termination head)"
        )


def _write_scalars(writer: Any, prefix: str, values: dict[str, Any], step: int) -> None:
    for name, value in values.items():
        if isinstance(value, int | float | np.floating) and np.isfinite(value):
            writer.add_scalar(f"{prefix}/{name}", float(value), global_step=step)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """``torch`` on ``count`` threads inside the block: the belief model is small, and on
    a shared machine more threads mostly wait for each other."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class OfflinePlan:
    """A checked offline run, ready to start: built by :func:`plan_offline` without Ray."""

    dataset: OfflineDataset
    preset: str
    online_config: Any  # the online run's config (belief module spec, DynamiteSettings)
    offline: OfflineSettings
    algorithm: str
    obs_dim: int
    action_space: gym.Space
    seed: int | None

    @property
    def settings(self) -> Any:
        return self.online_config.dynamite_settings


def plan_offline(
    data: str | Path | OfflineDataset,
    preset: str,
    *,
    overrides: dict[str, Any] | None = None,
    offline: OfflineSettings | None = None,
    seed: int | None = 0,
) -> OfflinePlan:
    """Read the dataset and check the run (no Ray needed).

    ``preset``: one of :data:`~rllib_dynamite.offline.settings.OFFLINE_PRESETS`;
    ``overrides``: ``DynamiteSettings`` fields (``env_config`` comes from the dataset
    card); ``offline``: the pipeline's own settings.

    Raises:
        DatasetError, DatasetNotFoundError: a bad or missing dataset.
        ConfigError: a bad preset or setting.
    """
    offline = offline or OfflineSettings()
    overrides = dict(overrides or {})
    if preset not in OFFLINE_PRESETS:
        raise ConfigError(f"unknown offline preset {preset!r}; presets: {list(OFFLINE_PRESETS)}")
    dataset = data if isinstance(data, OfflineDataset) else read_dataset(data)
    card = dataset.card
    if "env_config" in overrides and overrides["env_config"] != card.env_config:
        raise ConfigError(f"env_config comes from the dataset card ({card.env_config})")
    overrides.update(env_config=card.env_config, seed=seed)
    # bc has no belief model: its network settings are those of the memoryless baseline.
    online_preset = preset if preset in BELIEF_PRESETS else "markov_ppo"
    online = make_config(card.env, online_preset, **overrides)
    algorithm = offline.algorithm_for(card.discrete_actions, behaviour_cloning=preset == "bc")
    _check_labels(dataset, online.dynamite_settings, offline)
    obs_dim, action_space = env_spaces(card.env, card.env_config)
    if obs_dim != card.observation_dim:
        raise DatasetError(
            f"{dataset.path}: observations have {card.observation_dim} dims, "
            f"{card.env} has {obs_dim}"
        )
    return OfflinePlan(dataset, preset, online, offline, algorithm, obs_dim, action_space, seed)


@dataclass
class _PolicyInput:
    """What the offline learner reads and the evaluation env shows: per-step belief
    features (``None`` for ``bc``) and the env that produces the same observation."""

    features: np.ndarray | None
    env: Any
    env_config: dict[str, Any]
    observation_space: gym.Space
    belief_terms: dict[str, float]


def _belief_stage(
    plan: OfflinePlan, output: Path, writer: Any, log: Callable[[str], None]
) -> _PolicyInput:
    """Steps 1-2: train the belief model, relabel, save the model (nothing for ``bc``)."""
    card, offline = plan.dataset.card, plan.offline
    plain = gym.spaces.Box(-np.inf, np.inf, (plan.obs_dim,), np.float32)
    if plan.preset not in BELIEF_PRESETS:
        return _PolicyInput(None, card.env, dict(card.env_config), plain, {})
    module = belief.build_belief_module(plan.online_config, plain, plan.action_space)
    tensors = belief.episode_tensors(plan.dataset.episodes, plan.action_space)
    mode = "label-free" if offline.no_session_labels else "session labels"
    log(f"belief model: {offline.belief_steps} steps on {len(tensors)} episodes ({mode})")

    def log_belief(step: int, terms: dict[str, float]) -> None:
        _write_scalars(writer, "belief", terms, step)
        log(f"  belief step {step:5d}  total {terms['total']:.4f}")

    with torch_threads(1):
        belief_terms = belief.train_belief_model(
            module,
            tensors,
            plan.settings,
            steps=offline.belief_steps,
            label_free=offline.no_session_labels,
            label_free_threshold=offline.label_free_threshold,
            label_free_warmup=offline.label_free_warmup,
            log=log_belief,
            log_interval=offline.log_interval,
        )
        features = belief.relabel(module, tensors)
    module.save_to_path(output / "belief_model")
    env_config = {
        "env": card.env,
        "env_config": dict(card.env_config),
        "belief_model": str(output / "belief_model"),
    }
    size = plan.obs_dim + features.shape[-1]
    observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)
    return _PolicyInput(features, BeliefObservationEnv, env_config, observation_space, belief_terms)


def _rl_stage(
    config: Any, plan: OfflinePlan, output: Path, writer: Any, log: Callable[[str], None]
) -> tuple[Path, dict[str, Any]]:
    """Step 3: train the offline learner; returns its checkpoint and module weights."""
    iterations = plan.offline.rl_iterations
    log(f"offline RL: {plan.algorithm}, {iterations} iterations")
    algo = config.build_algo()
    try:
        for iteration in range(iterations):
            learner = algo.train().get("learners", {}).get(MODULE_ID, {})
            _write_scalars(writer, "rl", learner, iteration)
            if iteration % plan.offline.log_interval == 0 or iteration == iterations - 1:
                losses = ", ".join(
                    f"{k} {float(v):.4f}" for k, v in sorted(learner.items()) if "loss" in k
                )
                log(f"  rl iteration {iteration:4d}  {losses}")
        checkpoint = Path(algo.save_to_path(str(output / "policy")))
        learner_state = algo.learner_group.get_state(components="learner/rl_module")
        module_state = learner_state["learner"]["rl_module"][MODULE_ID]
    finally:
        algo.stop()
        # Free Ray Data's batch iterators while Ray is up: closed at interpreter exit,
        # they report to a Ray that is gone (a traceback, no harm).
        del algo
        gc.collect()
    return checkpoint, module_state


def run_offline(
    plan: OfflinePlan, output: str | Path, log: Callable[[str], None] = print
) -> OfflineResult:
    """Run the offline pipeline (module docstring) of ``plan``, writing under ``output``.
    Ray must be initialised (the offline learner reads its data through Ray Data)."""
    from tensorboardX import SummaryWriter

    from rllib_dynamite.evaluation import write_json

    card, offline = plan.dataset.card, plan.offline
    output = Path(output).resolve()  # RLlib reads a relative path as a URI without scheme
    output.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(str(output / "tensorboard"))
    started = time.perf_counter()
    policy_input = _belief_stage(plan, output, writer, log)
    relabelled = write_relabelled(
        output / "relabelled", plan.dataset.episodes, policy_input.features, plan.settings.gamma
    )
    config = offline_rl_config(
        plan.algorithm,
        relabelled,
        env=policy_input.env,
        env_config=policy_input.env_config,
        observation_space=policy_input.observation_space,
        action_space=plan.action_space,
        settings=plan.settings,
        offline=offline,
    )
    checkpoint, module_state = _rl_stage(config, plan, output, writer, log)

    # Step 4: online evaluation, on env seeds the dataset never used.
    seed = None if plan.seed is None else plan.seed + EVALUATION_SEED_OFFSET
    report = evaluate_policy(config, module_state, offline.eval_episodes, seed)
    _write_scalars(writer, "evaluation", report.metrics, offline.rl_iterations)
    writer.close()
    write_json(report, output / "evaluation.json", str(checkpoint))
    run = {
        "dataset": str(plan.dataset.path.resolve()),
        "env": card.env,
        "env_config": card.env_config,
        "preset": plan.preset,
        "algorithm": plan.algorithm,
        "seed": plan.seed,
        "settings": as_dict(plan.settings),
        "offline": as_dict(offline),
        "belief_terms": policy_input.belief_terms,
        "episode_return_mean": report.metrics["episode_return_mean"],
        "behaviour_return_mean": card.return_mean,
        "wall_seconds": time.perf_counter() - started,
    }
    (output / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    return OfflineResult(output, plan.algorithm, policy_input.belief_terms, report.metrics)
