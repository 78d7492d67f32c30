"""``DynamiteTrainable``: the Tune trainable of every ``train`` and ``tune`` run.

Tune hands each trial a plain config (:meth:`Experiment.param_space`, grids resolved):
``env``, ``preset``, ``settings`` and the evaluation plan. The trainable builds the
RLlib config from it with :func:`~rllib_dynamite.config.make_config`, so a grid over
any DynamiteSettings field (batch sizes, model sizes, ``env_config.p``) goes through
the same derivation as a single run. Each iteration's result gains
``env_steps_per_second`` and, at evaluation time, ``evaluation/...`` metrics (Tune's
own TensorBoard logger records them) and a belief picture, a TensorBoard image in
the trial's ``belief/`` run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    NUM_ENV_STEPS_SAMPLED,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
)

from rllib_dynamite.config import make_config
from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.evaluation.figures import figure_to_image

TRIAL_KEYS = ("env", "preset", "settings")
EVALUATION_SEED_OFFSET = 10_000
BELIEF_RUN = "belief"
BELIEF_IMAGE_TAG = "evaluation/belief"


def is_trial_config(config: Any) -> bool:
    """Whether ``config`` is a trial config (not an RLlib config or its state dict)."""
    return isinstance(config, dict) and all(key in config for key in TRIAL_KEYS)


def algorithm_config(trial_config: dict[str, Any]) -> AlgorithmConfig:
    """The RLlib config of one trial."""
    return make_config(trial_config["env"], trial_config["preset"], **trial_config["settings"])


class DynamiteTrainable(PPO):
    """PPO built from a trial config, with periodic evaluation (module docstring).

    Any other config (an ``AlgorithmConfig`` or its state, as when restoring from a
    checkpoint) is passed to PPO unchanged.
    """

    def __init__(self, config: Any = None, **kwargs: Any) -> None:
        self._trial_config = config if is_trial_config(config) else None
        self._evaluator: Evaluator | None = None
        if self._trial_config is not None:
            config = algorithm_config(self._trial_config)
        super().__init__(config=config, **kwargs)

    @classmethod
    def default_resource_request(cls, config: Any) -> Any:
        if is_trial_config(config):
            config = algorithm_config(config)
        return super().default_resource_request(config)

    def step(self) -> dict[str, Any]:
        start = time.perf_counter()
        result = super().step()
        sampled = result.get(ENV_RUNNER_RESULTS, {}).get(NUM_ENV_STEPS_SAMPLED, 0)
        result["env_steps_per_second"] = float(sampled) / (time.perf_counter() - start)
        if self._evaluation_due(result):
            result["evaluation"] = self._evaluate(iteration=self.iteration + 1)
        return result

    def get_auto_filled_metrics(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Every result carries its config: the trial config (a few hundred bytes) rather
        # than the full RLlib config (~14 kB a line of result.json).
        auto_filled = super().get_auto_filled_metrics(*args, **kwargs)
        if self._trial_config is not None and "config" in auto_filled:
            auto_filled["config"] = self._trial_config
        return auto_filled

    def cleanup(self) -> None:
        if self._evaluator is not None:
            self._evaluator.stop()
        super().cleanup()

    def _evaluation_due(self, result: dict[str, Any]) -> bool:
        if self._trial_config is None or not self._trial_config.get("evaluation_interval"):
            return False
        iteration = self.iteration + 1
        at_end = result.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0) >= self._trial_config.get(
            "stop_timesteps", float("inf")
        )
        return at_end or iteration % self._trial_config["evaluation_interval"] == 0

    def _evaluate(self, iteration: int) -> dict[str, Any]:
        if self._evaluator is None:
            seed = self.config.dynamite_settings.seed
            self._evaluator = Evaluator(
                self.config, seed=None if seed is None else seed + EVALUATION_SEED_OFFSET
            )
        # The full module: the evaluation pictures read its decoders.
        learner_state = self.learner_group.get_state(
            components=f"{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}"
        )[COMPONENT_LEARNER][COMPONENT_RL_MODULE]
        self._evaluator.set_module_state(learner_state[DEFAULT_MODULE_ID])
        report = self._evaluator.evaluate(
            self._trial_config.get("evaluation_episodes", 10),
            explore=self._trial_config.get("evaluation_explore", False),
        )
        if report.figure is not None:
            self._write_image(figure_to_image(report.figure), iteration)
        return report.metrics

    def _write_image(self, image: Any, iteration: int) -> None:
        # A separate TensorBoard run (``<trial>/belief``), so Tune's own event file stays
        # the newest in the trial directory and keeps updating in a live TensorBoard.
        # One closed file per evaluation, named by iteration: the writer's background
        # thread is done with it before SyncConfig(sync_artifacts=True) copies the
        # working directory into the trial directory.
        from tensorboardX import SummaryWriter

        writer = SummaryWriter(
            str(Path(self.logdir) / BELIEF_RUN), filename_suffix=f".{iteration:08d}"
        )
        writer.add_image(BELIEF_IMAGE_TAG, image, global_step=iteration)
        writer.close()
