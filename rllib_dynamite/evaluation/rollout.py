"""Greedy evaluation episodes of a trained policy, with its beliefs (docs/usage.md).

:class:`Evaluator` runs episodes through an RLlib ``SingleAgentEnvRunner`` built from
the run's own config, so observations pass the same connectors as in training. The
EnvRunner's module is inference-only (no decoders, no termination head), so the
Evaluator also holds the full module, with the same weights: it re-runs the belief
encoder over each episode's observations to recover the beliefs and termination
logits the policy acted on, and its reward decoder draws the belief pictures.

An env may name per-episode metrics of its step ``info`` in
``metadata["evaluation_metrics"]``, ``{metric: (info key, "sum" | "mean" | "max")}``
(ScratchItch: scratches per episode, forces on the person); the report gives each one's
mean over the episodes. Each episode is kept as an
:class:`~rllib_dynamite.evaluation.records.EpisodeRecord`.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.utils.checkpoints import Checkpointable

from rllib_dynamite.envs.resolve import ensure_registered
from rllib_dynamite.evaluation import figures
from rllib_dynamite.evaluation.adaptation import step_successes, success_rule
from rllib_dynamite.evaluation.metrics import (
    TERMINATION_TOLERANCE,
    BoundaryCounts,
    episode_info_metrics,
    linear_readout,
    summarize_returns,
)
from rllib_dynamite.evaluation.records import EpisodeRecord
from rllib_dynamite.losses import boundary_threshold
from rllib_dynamite.rl_module import DynamiteRLModule

MODULE_ID = "default_policy"


@dataclass
class EvaluationReport:
    """Metrics over the episodes (see :mod:`rllib_dynamite.evaluation.metrics`), the
    episodes themselves, and the belief picture (``None`` without a belief model)."""

    env_id: str
    metrics: dict[str, Any]
    episodes: list[EpisodeRecord] = field(repr=False)
    figure: Figure | None = field(default=None, repr=False)


class Evaluator:
    """Evaluation episodes of one policy.

    Args:
        config: the run's ``AlgorithmConfig`` (from :func:`~rllib_dynamite.config.make_config`
            or a checkpoint); it is copied and set to one env in the calling process.
        seed: seeds the evaluation envs (None: random).
    """

    def __init__(self, config: AlgorithmConfig, seed: int | None = None) -> None:
        config = config.copy(copy_frozen=False)
        config.env_runners(num_env_runners=0, num_envs_per_env_runner=1)
        config.debugging(seed=seed)
        self.config = config
        self.env_id = str(config.env)
        self.settings = config.dynamite_settings
        if isinstance(config.env, str):  # a class or factory needs no registration
            ensure_registered(config.env)
        self._runner = SingleAgentEnvRunner(config=config)
        self._module = config.get_rl_module_spec(
            spaces=self._runner.get_spaces(), inference_only=False
        ).build()
        self.set_module_state(self._module.get_state())  # one set of weights from the start
        # Sub-envs are reachable with gymnasium's synchronous vectorisation only.
        sub_envs = getattr(self._runner.env.unwrapped, "envs", None)
        self._success_rule = success_rule(sub_envs[0] if sub_envs else None)
        self._info_metrics: dict[str, tuple[str, str]] = (
            dict(sub_envs[0].metadata.get("evaluation_metrics", {})) if sub_envs else {}
        )

    @classmethod
    def from_checkpoint(cls, path: str | Path, seed: int | None = None) -> Evaluator:
        """An evaluator for the policy in an Algorithm checkpoint directory."""
        path = Path(path).resolve()  # RLlib reads a relative path as a URI
        with open(path / Checkpointable.CLASS_AND_CTOR_ARGS_FILE_NAME, "rb") as file:
            config_state = pickle.load(file)["ctor_args_and_kwargs"][0][0]
        evaluator = cls(AlgorithmConfig.from_state(config_state), seed=seed)
        module_path = (
            path / COMPONENT_LEARNER_GROUP / COMPONENT_LEARNER / COMPONENT_RL_MODULE / MODULE_ID
        )
        evaluator.set_module_state(RLModule.from_checkpoint(module_path).get_state())
        return evaluator

    @property
    def module(self) -> RLModule:
        """The full module (decoders too) with the weights the EnvRunner acts on."""
        return self._module

    def set_module_state(self, state: dict[str, Any]) -> None:
        """Load the weights of the full module (the ``get_state()`` of the Learner's
        ``RLModule``, not an inference-only one); the EnvRunner gets its inference-only
        part.

        Raises:
            ValueError: ``state`` lacks some of the module's weights.
        """
        missing = sorted(set(self._module.state_dict()) - set(state))
        if missing:
            raise ValueError(
                f"the module state lacks {missing}: pass the full state (a Learner "
                "module's get_state(), not get_state(inference_only=True))"
            )
        self._module.set_state(state)
        self._runner.set_state({COMPONENT_RL_MODULE: self._module.get_state(inference_only=True)})

    def evaluate(
        self, num_episodes: int, with_figure: bool = True, explore: bool = False
    ) -> EvaluationReport:
        """Run ``num_episodes`` episodes and compute every metric.

        Actions are greedy (VariBAD's evaluation) unless ``explore``, which samples them
        from the policy as in training. Every call starts from the same seeded envs.
        """
        raw = self._runner.sample(num_episodes=num_episodes, explore=explore)
        episodes = [self._record(episode) for episode in raw[:num_episodes]]
        metrics = summarize_returns(
            [e.episode_return for e in episodes],
            [e.rewards for e in episodes],
            [e.session_ids for e in episodes],
            [e.successes for e in episodes],
        )
        metrics["episodes"] = len(episodes)
        for name in self._info_metrics:
            metrics[name] = float(np.mean([e.info_metrics[name] for e in episodes]))
        if all(e.termination_logits is not None for e in episodes):
            counts = BoundaryCounts()
            for e in episodes:
                counts.add(e.termination_logits, e.session_ids, TERMINATION_TOLERANCE)
            metrics.update(counts.summary(TERMINATION_TOLERANCE))
        readout = None
        if all(e.belief_mean is not None for e in episodes):
            readout, _, metrics["belief_readout_r2"] = linear_readout(
                np.concatenate([e.belief_mean[1:] for e in episodes]),
                np.concatenate([e.latents for e in episodes]),
            )
        figure = None
        if with_figure and readout is not None:
            figure = figures.belief_figure(
                self.env_id,
                episodes,
                self.module,
                readout,
                binary_reward=self.settings.reward_loss == "bce",
            )
        return EvaluationReport(self.env_id, metrics, episodes, figure)

    def stop(self) -> None:
        self._runner.stop()

    def _record(self, episode: Any) -> EpisodeRecord:
        observations = np.asarray(episode.get_observations(), dtype=np.float32)
        infos = episode.get_infos()[1:]  # infos[t + 1] labels transition x_t
        rewards = np.asarray(episode.get_rewards(), dtype=np.float64)
        record = EpisodeRecord(
            states=observations,
            rewards=rewards,
            session_ids=np.array([info["session_id"] for info in infos], dtype=np.int64),
            latents=np.stack([np.asarray(info["latent"], np.float64) for info in infos]),
            successes=step_successes(self._success_rule, rewards, infos),
            info_metrics=episode_info_metrics(infos, self._info_metrics),
        )
        module = self.module
        if not isinstance(module, DynamiteRLModule):
            return record
        record.states = observations[:, : module.obs_dim]  # drop a_{t-1}, r_t
        if not self.settings.use_vae:
            return record
        with torch.no_grad():
            initial_state = torch.zeros(1, module.gru_hidden_dim)
            encoded = module.encode(torch.from_numpy(observations)[None], initial_state)
        record.belief_mean = encoded.belief_mean[0].numpy().astype(np.float64)
        record.belief_logvar = encoded.belief_logvar[0].numpy().astype(np.float64)
        if self.settings.termination_head:
            # Shifted so that > 0 reads "a boundary is more likely than not".
            threshold = boundary_threshold(self.settings.termination_pos_weight)
            record.termination_logits = encoded.termination_logit[0, 1:].numpy() - threshold
        return record
