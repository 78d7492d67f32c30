"""Steps per second of each DLCMDP env against its bare base, and the session overhead.

Three ways to step each env, all with the same pre-sampled random actions and a reset
every ``H`` steps:

- ``DLCMDP``: the env's ``step``, with the session machinery (switch draws, labels, T_m);
- ``base``: the same physics bare. For Reacher and HalfCheetahVel that is gymnasium's
  Reacher-v5 / HalfCheetah-v5 env class instantiated directly; for the others
  (GridNavi, ScratchItch) it is the env's own ``_step_task``;
- ``task``: the env's ``_step_task`` (for the MuJoCo envs: the task step without the
  session machinery; Reacher's skips Reacher-v5's target-revealing observation, so it
  can be faster than Reacher-v5 itself).

``overhead`` is the extra time per step of ``DLCMDP`` over ``base``; ``session cost`` is
that of ``DLCMDP`` over ``task``. Rounds alternate between the variants and the best
round of each is kept, so a busy neighbour on the CPU hurts all of them alike.

    .venv/bin/python benchmarks/env_throughput.py [--seconds 1.0] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from functools import partial

from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv

from rllib_dynamite.envs import ENTRY_POINTS, ENV_IDS, env_class

NUM_ACTIONS = 1000
GYMNASIUM_BASES = {
    "rllib_dynamite/Reacher-v0": ("Reacher-v5", ReacherEnv),
    "rllib_dynamite/HalfCheetahVel-v0": ("HalfCheetah-v5", HalfCheetahEnv),
}


def steps_per_second(
    step: Callable, reset: Callable[[], object], actions: list, horizon: int, seconds: float
) -> float:
    """Step with ``actions`` in a loop for about ``seconds``, resetting every ``horizon``."""
    reset()
    num_actions = len(actions)
    steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            step(actions[steps % num_actions])
            steps += 1
            if steps % horizon == 0:
                reset()
        if time.perf_counter() >= deadline:
            return steps / (time.perf_counter() - start)


def measure(env_id: str, seconds: float, rounds: int) -> dict[str, float | str]:
    """Best-of-``rounds`` steps/s of the DLCMDP env, its bare base and its task step."""
    env = env_class(env_id)()
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(NUM_ACTIONS)]
    env.reset(seed=0)  # draws the latent that ``_step_task`` runs under
    variants = {
        "DLCMDP": (env.step, partial(env.reset, seed=0)),
        "task": (env._step_task, partial(env._reset_task, env.np_random)),
    }
    base_name = "_step_task"
    if env_id in GYMNASIUM_BASES:
        base_name, base_cls = GYMNASIUM_BASES[env_id]
        base = base_cls()
        variants["base"] = (base.step, partial(base.reset, seed=0))
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (step, reset) in variants.items():
            rates[name].append(steps_per_second(step, reset, actions, env.H, seconds))
    env.close()
    best = {name: max(values) for name, values in rates.items()}
    best.setdefault("base", best["task"])
    return {"base_name": base_name, **best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant")
    args = parser.parse_args()

    rows = []
    for env_id in ENV_IDS:
        module = ENTRY_POINTS[env_id].split(":")[0]
        if importlib.util.find_spec(module) is None:
            print(f"skipping {env_id}: {module} does not exist yet")
            continue
        rows.append((env_id.split("/")[1], measure(env_id, args.seconds, args.rounds)))

    print(
        f"{'env':<18} {'DLCMDP steps/s':>14} {'bare base':>14} {'base steps/s':>12}"
        f" {'ratio':>6} {'overhead':>8} {'task steps/s':>12} {'session cost':>12}"
    )
    for name, row in rows:
        env_rate, base_rate, task_rate = row["DLCMDP"], row["base"], row["task"]
        print(
            f"{name:<18} {env_rate:>14,.0f} {row['base_name']:>14} {base_rate:>12,.0f}"
            f" {env_rate / base_rate:>6.3f} {base_rate / env_rate - 1:>+8.1%}"
            f" {task_rate:>12,.0f} {task_rate / env_rate - 1:>+12.1%}"
        )


if __name__ == "__main__":
    main()
