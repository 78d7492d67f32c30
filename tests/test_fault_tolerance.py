"""Env errors are dropped, counted and logged; a broken env ends the run with one error."""

import logging
import os
import signal
import sys
from contextlib import contextmanager

import gymnasium as gym
import pytest
from ray import cloudpickle

from rllib_dynamite.config import make_config
from rllib_dynamite.envs import make
from rllib_dynamite.fault_tolerance import (
    FAULT_TOLERANCE,
    NUM_ENV_ERRORS,
    BrokenEnvError,
    FaultToleranceCallbacks,
    env_error_in_driver,
    with_fault_tolerance,
)

GRIDNAVI = "rllib_dynamite/GridNavi-v0"
# The env classes below travel to the EnvRunner actors by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@contextmanager
def time_limit(seconds: int):
    """Fail the test (TimeoutError) instead of hanging past ``seconds``."""

    def _raise(signum, frame):
        raise TimeoutError(f"test took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class FlakyGridNavi(gym.Wrapper):
    """GridNavi whose first instance in a process raises at its 5th step."""

    # Per process id: the class travels by value, with the driver's counts.
    instances_by_pid = {}

    def __init__(self, env_config=None):
        super().__init__(make(GRIDNAVI))
        pid = os.getpid()
        self.instances_by_pid[pid] = self.instances_by_pid.get(pid, 0) + 1
        self.fails = self.instances_by_pid[pid] == 1
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.fails and self.steps == 5:
            raise ValueError("the simulator lost its state")
        return self.env.step(action)


class BrokenResetGridNavi(gym.Wrapper):
    """GridNavi whose reset always raises."""

    def __init__(self, env_config=None):
        super().__init__(make(GRIDNAVI))

    def reset(self, **kwargs):
        raise ValueError("reset is broken")


def tiny_config(env_class, num_env_runners):
    config = make_config(
        GRIDNAVI, "markov_ppo", num_env_runners=num_env_runners, num_envs_per_env_runner=2,
        num_epochs=1, seed=0,
    )  # fmt: skip
    return with_fault_tolerance(config).environment(env_class, env_config={})


def test_settings_turn_on_env_and_env_runner_restarts():
    config = with_fault_tolerance(make_config(GRIDNAVI, "markov_ppo"))
    assert config.restart_failed_sub_environments and config.restart_failed_env_runners
    assert config.callbacks_class is FaultToleranceCallbacks
    assert FAULT_TOLERANCE["delay_between_env_runner_restarts_s"] <= 10


def test_env_error_mid_episode_is_dropped_counted_and_logged(ray_local, caplog):
    """Sampling in the driver, so the EnvRunner's log lines are caught here."""
    algo = tiny_config(FlakyGridNavi, num_env_runners=0).build_algo()
    try:
        with time_limit(240), caplog.at_level(logging.WARNING, "rllib_dynamite"):
            results = [algo.train() for _ in range(2)]
    finally:
        algo.stop()
    assert [r["env_runners"][NUM_ENV_ERRORS] for r in results] == [1, 1]
    assert results[-1]["env_runners"]["num_episodes_lifetime"] == 4  # none half-done
    assert results[-1]["env_runners"]["num_healthy_env_runners"] == 1
    logged = caplog.text
    assert "env FlakyGridNavi raised ValueError: the simulator lost its state" in logged
    assert "episodes under way are dropped" in logged


def test_env_errors_on_a_remote_env_runner_are_counted(ray_local):
    algo = tiny_config(FlakyGridNavi, num_env_runners=1).build_algo()
    try:
        with time_limit(240):
            result = algo.train()
    finally:
        algo.stop()
    assert result["env_runners"][NUM_ENV_ERRORS] == 1
    assert result["env_runners"]["num_env_steps_sampled"] > 0
    assert result["env_runners"]["node_ids"] == ray_local.get_runtime_context().get_node_id()


@pytest.mark.parametrize("num_env_runners", [0, 1], ids=["in-driver", "remote"])
def test_broken_env_ends_the_run_with_one_clear_error(ray_local, num_env_runners):
    """Remote: RLlib takes the failed EnvRunner out of service and would go on returning
    empty results; the callback turns the first empty one into the error."""
    algo = tiny_config(BrokenResetGridNavi, num_env_runners).build_algo()
    try:
        with time_limit(240), pytest.raises(BrokenEnvError) as raised:
            for _ in range(5):
                algo.train()
    finally:
        algo.stop()
    message = str(raised.value)
    assert "BrokenResetGridNavi" in message and "ValueError: reset is broken" in message
    if num_env_runners == 0:
        assert "failed 10 times in a row" in message
    else:
        assert "sampled no env steps (0/1 remote EnvRunners healthy)" in message
        assert "(in reset)" in message


class _Group:
    """The part of an EnvRunnerGroup the driver callback reads: one dead EnvRunner."""

    def num_remote_env_runners(self):
        return 1

    def num_healthy_remote_env_runners(self):
        return 0

    def foreach_env_runner(self, func, **kwargs):
        return []


class _Algorithm:
    def __init__(self, env_creator):
        self.env_runner_group = _Group()
        self.env_creator = env_creator
        self.config = type("Config", (), {"env": GRIDNAVI, "env_config": {}})()


def test_no_samples_from_a_working_env_ends_the_run_after_the_timeout():
    callbacks = FaultToleranceCallbacks()
    algorithm = _Algorithm(lambda env_config: make(GRIDNAVI))
    callbacks.on_train_result(algorithm=algorithm, result={"training_iteration": 1})
    callbacks.no_samples_timeout_s = 0.0
    with pytest.raises(BrokenEnvError, match="works in the driver; see the EnvRunner logs"):
        callbacks.on_train_result(algorithm=algorithm, result={"training_iteration": 2})


def test_driver_diagnosis_names_the_phase_that_fails():
    assert env_error_in_driver(_Algorithm(lambda env_config: make(GRIDNAVI))) is None
    error = env_error_in_driver(_Algorithm(BrokenResetGridNavi))
    assert error == "ValueError: reset is broken (in reset)"
