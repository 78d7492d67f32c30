"""Fault tolerance of a training run: env errors are counted, a broken env ends the run.

RLlib does the recovery itself, with the settings of :data:`FAULT_TOLERANCE`:

- ``restart_failed_sub_environments``: an env that raises in ``step`` or ``reset`` is
  recreated, and its EnvRunner drops the episodes it had under way;
- ``restart_failed_env_runners``: a dead EnvRunner actor (its process or node lost) is
  restarted by Ray and brought back into service at the start of the next iteration.

:class:`FaultToleranceCallbacks` adds what RLlib leaves out (cluster/README.md,
"Fault tolerance"):

- every env error is counted, ``env_runners/num_env_errors`` (lifetime), and logged
  with the env's id and its exception;
- an env that fails :attr:`~FaultToleranceCallbacks.max_consecutive_env_errors` times
  in a row without finishing an episode raises :class:`BrokenEnvError` in its EnvRunner
  (RLlib would recreate it forever);
- an iteration that sampled nothing (every EnvRunner failed or out of service, which
  RLlib reports as a result without ``env_runners``) is diagnosed in the driver: if the
  env fails there too, :class:`BrokenEnvError` names it and its exception at once;
  otherwise the run ends after :attr:`~FaultToleranceCallbacks.no_samples_timeout_s`
  without a sampled step;
- each result says how many EnvRunners are healthy and on which Ray nodes they run
  (``env_runners/num_healthy_env_runners``, ``env_runners/node_ids``).

Checkpoints cut short by a kill are :mod:`rllib_dynamite.checkpoint_integrity`'s concern.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.env.env_context import EnvContext
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED

logger = logging.getLogger(__name__)

# ``AlgorithmConfig.fault_tolerance(**FAULT_TOLERANCE)``. RLlib's default 60 s pause
# before a failed EnvRunner exits (to throttle restart storms) and its 30 s health
# probe would each stall an iteration that long; a few seconds is enough for one job.
FAULT_TOLERANCE: dict[str, Any] = dict(
    restart_failed_env_runners=True,
    restart_failed_sub_environments=True,
    delay_between_env_runner_restarts_s=5.0,
    env_runner_health_probe_timeout_s=5.0,
)
NUM_ENV_ERRORS = "num_env_errors"
NUM_HEALTHY_ENV_RUNNERS = "num_healthy_env_runners"
ENV_RUNNER_NODE_IDS = "node_ids"
# Steps of the driver's check of the env: enough for one episode of every DLCMDP env.
DIAGNOSIS_MAX_STEPS = 10_000


class BrokenEnvError(RuntimeError):
    """An env that keeps failing: the message names the env and its exception."""


def describe_error(error: BaseException) -> str:
    """``ValueError: the message``."""
    return f"{type(error).__name__}: {error}"


class FaultToleranceCallbacks(RLlibCallback):
    """Counts and logs env errors; ends the run on a broken env or on no samples.

    Register with ``config.callbacks(FaultToleranceCallbacks)`` together with
    ``config.fault_tolerance(**FAULT_TOLERANCE)`` (or :func:`with_fault_tolerance`).
    Subclass to change the two limits.
    """

    #: Env errors in a row on one EnvRunner, with no episode finished between them,
    #: that make the env count as broken.
    max_consecutive_env_errors: int = 10
    #: Seconds without a single sampled env step (EnvRunners dead or being restored)
    #: after which the run ends, when the env itself works in the driver.
    no_samples_timeout_s: float = 300.0

    def __init__(self) -> None:
        super().__init__()
        # EnvRunner side.
        self._envs_created = 0
        self._errors_in_a_row = 0
        # Driver side.
        self._last_sampled_time: float | None = None
        self._last_num_env_errors = 0.0

    # -- EnvRunner side ------------------------------------------------------------
    def on_environment_created(
        self,
        *,
        env_runner: Any,
        metrics_logger: Any = None,
        env: Any,
        env_context: EnvContext,
        **kwargs: Any,
    ) -> None:
        self._envs_created += 1
        # RLlib recreates the env from inside the ``except`` block that caught the env's
        # error (``EnvRunner._try_env_step`` / ``_try_env_reset``), so that error is the
        # one being handled here; the first creation has none.
        error = sys.exc_info()[1]
        if self._envs_created == 1 or error is None:
            return
        self._errors_in_a_row += 1
        if metrics_logger is not None:
            metrics_logger.log_value(NUM_ENV_ERRORS, 1, reduce="lifetime_sum")
        env_id = env_name(env_runner.config.env)
        logger.warning(
            "env %s raised %s on EnvRunner %s; its episodes under way are dropped and "
            "the env is recreated (%d error(s) in a row)",
            env_id, describe_error(error), env_runner.worker_index, self._errors_in_a_row,
        )  # fmt: skip
        if self._errors_in_a_row >= self.max_consecutive_env_errors:
            raise BrokenEnvError(
                f"env {env_id} failed {self._errors_in_a_row} times in a row without "
                f"finishing an episode (EnvRunner {env_runner.worker_index}); "
                f"last error: {describe_error(error)}"
            ) from error

    def on_episode_end(self, *, episode: Any, env_index: int, **kwargs: Any) -> None:
        self._errors_in_a_row = 0

    # -- driver side ---------------------------------------------------------------
    def on_train_result(self, *, algorithm: Any, result: dict, **kwargs: Any) -> None:
        env_runner_results = result.setdefault(ENV_RUNNER_RESULTS, {})
        group = algorithm.env_runner_group
        num_remote = group.num_remote_env_runners() if group is not None else 0
        healthy = group.num_healthy_remote_env_runners() if num_remote else 1
        env_runner_results[NUM_HEALTHY_ENV_RUNNERS] = healthy
        env_runner_results[ENV_RUNNER_NODE_IDS] = " ".join(env_runner_node_ids(algorithm))
        self._log_new_env_errors(result, env_runner_results)

        now = time.monotonic()
        if env_runner_results.get(NUM_ENV_STEPS_SAMPLED, 0) > 0:
            self._last_sampled_time = now
            return
        self._last_sampled_time = self._last_sampled_time or now
        where = f"{healthy}/{num_remote} remote EnvRunners healthy" if num_remote else (
            "sampling in the driver"
        )  # fmt: skip
        error = env_error_in_driver(algorithm)
        if error is not None:
            raise BrokenEnvError(
                f"iteration {result.get('training_iteration')} sampled no env steps "
                f"({where}), and env {env_name(algorithm.config.env)} fails in the driver too: "
                f"{error}"
            )
        idle = now - self._last_sampled_time
        logger.warning(
            "iteration %s sampled no env steps (%s); no samples for %.0f s of at most %.0f s",
            result.get("training_iteration"), where, idle, self.no_samples_timeout_s,
        )  # fmt: skip
        if idle >= self.no_samples_timeout_s:
            raise BrokenEnvError(
                f"no env steps sampled for {idle:.0f} s ({where}) although env "
                f"{env_name(algorithm.config.env)} works in the driver; see the EnvRunner logs "
                "(`ray logs`, or the dashboard) for why they fail"
            )

    def _log_new_env_errors(self, result: dict, env_runner_results: dict) -> None:
        total = float(env_runner_results.get(NUM_ENV_ERRORS, self._last_num_env_errors))
        if total > self._last_num_env_errors:
            logger.warning(
                "iteration %s: %d env error(s) (episodes dropped, envs recreated); %d so far",
                result.get("training_iteration"), total - self._last_num_env_errors, total,
            )  # fmt: skip
        self._last_num_env_errors = total
        env_runner_results[NUM_ENV_ERRORS] = total


def env_name(env: Any) -> str:
    """An env id as ``'rllib_dynamite/GridNavi-v0'``, an env class or creator by name."""
    return repr(env) if isinstance(env, str) else getattr(env, "__qualname__", repr(env))


def env_runner_node_ids(algorithm: Any, timeout_s: float = 10.0) -> list[str]:
    """Ray node ids of the healthy EnvRunners (the driver's node if it samples itself)."""
    group = algorithm.env_runner_group
    if group is None:
        return [_current_node_id()]
    remote = group.num_remote_env_runners() > 0
    node_ids = group.foreach_env_runner(
        lambda env_runner: _current_node_id(),
        local_env_runner=not remote,
        timeout_seconds=timeout_s,
    )
    return sorted(node_ids)


def _current_node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def env_error_in_driver(algorithm: Any, max_steps: int = DIAGNOSIS_MAX_STEPS) -> str | None:
    """Run one episode of the algorithm's env, with random actions, in this process.

    Returns ``None`` if it works, else ``"ValueError: ... (in reset)"``.
    """
    config = algorithm.config
    phase = "the constructor"
    env = None
    try:
        env = algorithm.env_creator(EnvContext(config.env_config, worker_index=0))
        phase = "reset"
        env.reset(seed=0)
        phase = "step"
        for _ in range(max_steps):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                break
    except Exception as error:  # noqa: BLE001 -- any error of user env code is the answer
        return f"{describe_error(error)} (in {phase})"
    finally:
        if env is not None:
            env.close()
    return None


def with_fault_tolerance(config: Any) -> Any:
    """``config`` with :data:`FAULT_TOLERANCE` and :class:`FaultToleranceCallbacks`."""
    return config.fault_tolerance(**FAULT_TOLERANCE).callbacks(FaultToleranceCallbacks)
