"""Scripted reference policies: the yardsticks a trained preset is calibrated against.

A comparison of methods means little until each method's upper bound is sound
(docs/results.md, "Calibration"). Each policy is a callable ``(env, obs) -> action``
over a gymnasium env; :func:`scripted_references` plays those an env has:

- ``random``: uniform actions (every env below);
- ``memoryless``: the best policy that sees only the current observation, chosen among a
  few candidates by its return on other episodes;
- ``oracle``: a policy that reads the true latent, the upper bound of every preset;
- ``belief`` (where an env offers one): a policy that acts on what the rewards so far
  revealed, without the latent: what a belief preset could reach by acting on its
  belief (on the gridworlds, :mod:`rllib_dynamite.evaluation.bayes` plays that part).

What each env has:

- GridNavi (every variant): ``memoryless`` walks to one goal cell and stays (the best
  goal cell); ``oracle`` walks to the true goal (``env.unwrapped.latent``).
- Reacher: ``memoryless`` holds the fingertip at one point (the best of the shoulder,
  where the folded arm's fingertip is nearest every target on average, and four points
  on the target circle); ``oracle`` drives the fingertip to the true target
  (``env.unwrapped.target_position()``): inverse kinematics of the two-link arm, then a
  PD controller in joint space.
- HalfCheetahVel: ``memoryless`` is the zero action (stand still; every constant action
  settles into a standing pose, and zero costs no control); no ``oracle``: no simple
  controller runs at a given speed.
- ScratchItch: ``oracle`` taps the true itch (:class:`TapSkin`: hover above it, then
  touch the skin beside it, lift, touch the other side, so every touch is a scratch);
  ``memoryless`` is the best of holding still and tapping one fixed skin point (three
  along the limb, each on the side facing the robot), for lack of the itch.

Any other env (your own) may offer its own through a ``scripted_policies()`` method on
the unwrapped env, returning ``{"memoryless": {description: policy, ...},
"oracle": (description, policy), "belief": (description, policy), "bound": bool}``
(``oracle``, ``belief`` and ``bound`` optional; ``bound``: the policies are the best of
their class, so a trained preset is held to them; :mod:`rllib_dynamite.suite` has
examples). A policy with state has a ``reset()`` method, called at each episode's
start, and may have an ``observe(obs, reward)`` method, called after each step (a
belief policy learns from the rewards there). An env with neither:
:func:`scripted_references` raises :class:`NoScriptedReferences`, and
:func:`random_reference` alone plays it.

*Bounds*: GridNavi's references are the best return of their class of policy (the
shortest walk; the best cell), so a trained preset is held to them. The continuous
envs' are merely simple: a trained ``oracle`` may beat the PD controller, and a
memoryless policy that runs HalfCheetahVel at a constant 1.5 m/s (the median target)
would beat standing still by far, so they are printed beside a trained preset, not held
to.

Episodes are seeded as RLlib's single-env EnvRunner seeds them (``reset(seed=seed)``
once, then plain resets), so a trained policy evaluated with the same seed meets the
same latent sequence where the env's randomness does not depend on the actions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from rllib_dynamite.envs.gridnavi import MOVES, GridNavi
from rllib_dynamite.envs.halfcheetah_vel import HalfCheetahVel
from rllib_dynamite.envs.reacher import TARGET_RADIUS, Reacher, wrap_angle
from rllib_dynamite.envs.scratch_itch import ACTION_SCALE, HOME_QPOS, TOOL_GEOM, ScratchItch

ScriptedPolicy = Callable[[gym.Env, np.ndarray], Any]
STAY, UP, RIGHT, DOWN, LEFT = range(len(MOVES))

# Reacher's arm (gymnasium's reacher.xml): the elbow 0.1 m from the shoulder, the
# fingertip 0.11 m beyond it; the elbow's range is ±3 rad, kept 0.05 rad inside.
UPPER_ARM, FOREARM = 0.1, 0.11  # m
ELBOW_MAX = 2.95  # rad
# [choice] PD gains (action per rad, per rad/s), the best of a small grid by return on
# 30 episodes (-8.4; the gains within 2x of these score -8.4 to -8.9).
REACH_KP, REACH_KD = 1.0, 0.1
# Reacher's fixed points a memoryless policy may hold, by name: the shoulder (the arm
# folds to within 2.2 cm of it, the point nearest every target on average) and the
# target circle at four angles.
REACHER_POINTS = {
    "the shoulder, arm folded": (0.0, 0.0),
    **{
        f"the target circle at {degrees}°": (
            TARGET_RADIUS * math.cos(math.radians(degrees)),
            TARGET_RADIUS * math.sin(math.radians(degrees)),
        )
        for degrees in (0, 90, 180, -90)
    },
}


# ScratchItch's tapping controller [choice; each constant varied one at a time around
# a first guess, kept where the oracle's return on 20 episodes was best]: hover
# TAP_HOVER m above the skin point, then touch the skin TAP_STROKE m to one side of it
# along the limb (aiming TAP_PRESS m into the skin), lift TAP_LIFT m once the tool feels
# the contact, and touch the other side: the touches land 2·TAP_STROKE apart, more than
# the scratch rule's 1 cm, and within its 2.5 cm of the point. The tool moves at most
# TAP_STEP m per step, turned into joint targets by damped least squares on the tool's
# Jacobian.
TAP_HOVER, TAP_PRESS, TAP_LIFT, TAP_STROKE, TAP_STEP = 0.03, 0.004, 0.006, 0.012, 0.03  # m
TAP_DAMPING = 1e-3  # m²
# The fixed points a memoryless policy may tap: these fractions of the way from the
# shoulder to the wrist, on the side of the limb nearest the tool's home position.
TAP_FRACTIONS = (0.25, 0.5, 0.75)


class TapSkin:
    """ScratchItch: tap the skin at the true itch (``point=None``, read from the env)
    or at a fixed skin ``point`` (3,); stateful, so :func:`run_episodes` calls
    :meth:`reset` at every episode's start (constants above)."""

    def __init__(self, point: np.ndarray | None = None) -> None:
        self.point = None if point is None else np.asarray(point, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        self._mode, self._side = "approach", 1.0

    def __call__(self, env: gym.Env, obs: np.ndarray) -> np.ndarray:
        task = env.unwrapped
        point = np.asarray(task.latent if self.point is None else self.point, np.float64)
        normal, axis = task.limb.frame(point)
        site = task.model.site(TOOL_GEOM).id
        tool = task.data.site_xpos[site].copy()
        radius = float(task.model.geom(TOOL_GEOM).size[0])
        height = float((tool - point) @ normal)  # of the tool's centre above the skin
        lateral = float(np.linalg.norm(tool - point - height * normal))
        if lateral > 2.5 * TAP_STROKE or height > radius + TAP_HOVER + 0.02:
            self._mode = "approach"  # the start, or the itch moved
        if self._mode == "approach":
            target = point + (radius + TAP_HOVER) * normal
            if lateral < 0.01 and height < radius + TAP_HOVER + 0.01:
                self._mode = "touch"
        if self._mode == "touch" and obs[-1] > 0.0:  # the tool feels the contact
            self._mode, self._side = "lift", -self._side
        if self._mode == "touch":
            target = point + self._side * TAP_STROKE * axis + (radius - TAP_PRESS) * normal
        if self._mode == "lift":
            target = point + self._side * TAP_STROKE * axis + (radius + TAP_LIFT) * normal
            if height > radius + 0.7 * TAP_LIFT:
                self._mode = "touch"
        move = target - tool
        distance = float(np.linalg.norm(move))
        if distance > TAP_STEP:
            move *= TAP_STEP / distance
        jacobian = np.zeros((3, task.model.nv))
        mujoco.mj_jacSite(task.model, task.data, jacobian, None, site)
        joints = jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + TAP_DAMPING * np.eye(3), move)
        return np.clip(joints / ACTION_SCALE, -1.0, 1.0).astype(np.float32)


def tap_points(task: ScratchItch) -> dict[str, np.ndarray]:
    """The fixed skin points of :data:`TAP_FRACTIONS`, by description."""
    data = mujoco.MjData(task.model)
    data.qpos[:] = HOME_QPOS
    mujoco.mj_forward(task.model, data)
    home = data.site_xpos[task.model.site(TOOL_GEOM).id]
    limb = task.limb
    points = {}
    for fraction in TAP_FRACTIONS:
        skin = [
            point
            for theta in np.linspace(-np.pi, np.pi, 16, endpoint=False)
            if limb.is_skin(point := limb.point(fraction * limb.total_length, theta))
        ]
        nearest = min(skin, key=lambda point: float(np.linalg.norm(point - home)))
        points[f"{fraction:.0%} of the way down the limb"] = nearest
    return points


def random_policy(env: gym.Env, obs: np.ndarray) -> Any:
    """A uniformly random action."""
    return env.action_space.sample()


def walk_to(cell: tuple[int, int]) -> ScriptedPolicy:
    """GridNavi: walk to ``cell`` (x first, then y) and stay there."""
    target_x, target_y = int(cell[0]), int(cell[1])

    def policy(env: gym.Env, obs: np.ndarray) -> int:
        return step_towards(int(obs[0]), int(obs[1]), target_x, target_y)

    return policy


def gridnavi_oracle(env: gym.Env, obs: np.ndarray) -> int:
    """GridNavi: walk to the current goal, read from the env's true latent."""
    goal = env.unwrapped.latent
    return step_towards(int(obs[0]), int(obs[1]), int(goal[0]), int(goal[1]))


def step_towards(x: int, y: int, target_x: int, target_y: int) -> int:
    """GridNavi's action one step from ``(x, y)`` towards ``(target_x, target_y)``:
    along x first, then along y, and STAY on arrival."""
    if x != target_x:
        return RIGHT if target_x > x else LEFT
    if y != target_y:
        return UP if target_y > y else DOWN
    return STAY


def reach_to(point: tuple[float, float]) -> ScriptedPolicy:
    """Reacher: drive the fingertip to the fixed ``point`` ``(x, y)`` in m and hold it."""
    target = np.asarray(point, dtype=np.float64)

    def policy(env: gym.Env, obs: np.ndarray) -> np.ndarray:
        return reach_action(obs, target)

    return policy


def reacher_oracle(env: gym.Env, obs: np.ndarray) -> np.ndarray:
    """Reacher: drive the fingertip to the true target, read from the env."""
    return reach_action(obs, env.unwrapped.target_position())


def reach_action(obs: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Reacher's action (2,) towards fingertip position ``target`` (2,) in m.

    The joint angles that put the fingertip there (:func:`arm_angles`, the elbow bent
    the way it already is) are tracked by a PD controller,
    ``a = Kp·(θ* − θ) − Kd·θ̇``, clipped to the action space. ``obs``: Reacher's (8,)
    observation (``cos θ``, ``sin θ``, ``θ̇``, fingertip).
    """
    angles = np.arctan2(obs[2:4], obs[0:2])
    shoulder, elbow = arm_angles(target, elbow_up=angles[1] >= 0.0)
    error = np.array([wrap_angle(shoulder - angles[0]), elbow - angles[1]])
    action = REACH_KP * error - REACH_KD * np.asarray(obs[4:6], dtype=np.float64)
    return np.clip(action, -1.0, 1.0).astype(np.float32)


def arm_angles(target: np.ndarray, elbow_up: bool) -> tuple[float, float]:
    """Shoulder and elbow angles (rad) that put Reacher's fingertip at ``target`` (2,),
    or at the nearest point the arm reaches in its direction."""
    x, y = float(target[0]), float(target[1])
    cos_elbow = (x * x + y * y - UPPER_ARM**2 - FOREARM**2) / (2 * UPPER_ARM * FOREARM)
    elbow = math.acos(min(max(cos_elbow, math.cos(ELBOW_MAX)), 1.0))
    if not elbow_up:
        elbow = -elbow
    shoulder = math.atan2(y, x) - math.atan2(
        FOREARM * math.sin(elbow), UPPER_ARM + FOREARM * math.cos(elbow)
    )
    return shoulder, elbow


def zero_action(env: gym.Env, obs: np.ndarray) -> np.ndarray:
    """No action: every actuator idle (HalfCheetahVel: stand still, no control cost)."""
    return np.zeros(env.action_space.shape, dtype=env.action_space.dtype)


def run_episodes(env: gym.Env, policy: ScriptedPolicy, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` episodes of ``policy`` on ``env``: [episodes]."""
    env.action_space.seed(seed)
    returns = np.zeros(episodes)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        if hasattr(policy, "reset"):
            policy.reset()
        done = False
        observe = getattr(policy, "observe", None)
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(env, obs))
            if observe is not None:
                observe(obs, float(reward))
            returns[episode] += reward
            done = terminated or truncated
    return returns


@dataclass
class Reference:
    """A scripted policy's returns on one env configuration.

    ``bound``: no policy of its class (memoryless, or told the latent) does better, so a
    trained preset is held to it (GridNavi's); otherwise it is a yardstick only.
    """

    name: str
    description: str
    returns: np.ndarray
    bound: bool = False

    @property
    def mean(self) -> float:
        return float(self.returns.mean())


class NoScriptedReferences(ValueError):
    """The env has no scripted references (module docstring)."""


def random_reference(env: gym.Env, episodes: int, seed: int = 0) -> Reference:
    """Uniform actions on ``env`` (any env), over the ``episodes`` episodes seeded by
    ``seed``."""
    return Reference("random", "uniform actions", run_episodes(env, random_policy, episodes, seed))


@dataclass
class _Candidates:
    """An env's scripted policies: memoryless ones by description, the oracle and the
    belief policy (each ``(description, policy)`` or None)."""

    memoryless: dict[str, ScriptedPolicy]
    oracle: tuple[str, ScriptedPolicy] | None
    bound: bool
    belief: tuple[str, ScriptedPolicy] | None = None


def _candidates(env: gym.Env) -> _Candidates:
    task = env.unwrapped
    if isinstance(task, GridNavi):
        cells = [tuple(int(v) for v in cell) for cell in task.goal_cells]
        return _Candidates(
            {f"walk to goal cell {cell} and stay": walk_to(cell) for cell in cells},
            ("walk to the true current goal", gridnavi_oracle),
            bound=True,
        )
    if isinstance(task, Reacher):
        return _Candidates(
            {f"hold the fingertip at {name}": reach_to(xy) for name, xy in REACHER_POINTS.items()},
            ("drive the fingertip to the true target (IK + PD)", reacher_oracle),
            bound=False,
        )
    if isinstance(task, HalfCheetahVel):
        return _Candidates({"zero action (stand still)": zero_action}, None, bound=False)
    if isinstance(task, ScratchItch):
        return _Candidates(
            {
                "zero action (hold still)": zero_action,
                **{f"tap the skin {name}": TapSkin(p) for name, p in tap_points(task).items()},
            },
            ("tap the true itch (Jacobian reach, touch-lift-touch)", TapSkin()),
            bound=False,
        )
    hook = getattr(task, "scripted_policies", None)
    if callable(hook):
        return _hooked_candidates(task, hook())
    raise NoScriptedReferences(
        f"no scripted references for {type(task).__name__}: give it a "
        'scripted_policies() method (docs/custom_envs.md, "Will it learn?")'
    )


def _hooked_candidates(task: gym.Env, policies: Any) -> _Candidates:
    """An env's own references, from its ``scripted_policies()`` (module docstring)."""
    name = type(task).__name__
    if not isinstance(policies, dict) or not policies.get("memoryless"):
        raise NoScriptedReferences(
            f"{name}.scripted_policies() must return a dict with a non-empty 'memoryless' "
            f"entry {{description: policy}}, got {policies!r}"
        )
    memoryless = policies["memoryless"]
    if callable(memoryless):
        memoryless = {"memoryless (the env's own)": memoryless}
    oracle = _described(name, "oracle", policies.get("oracle"))
    belief = _described(name, "belief", policies.get("belief"))
    bound = bool(policies.get("bound", False))
    return _Candidates(dict(memoryless), oracle, bound, belief)


def _described(name: str, key: str, entry: Any) -> tuple[str, Any] | None:
    """A ``scripted_policies()`` entry as ``(description, policy)``: a bare policy gets
    a description; anything but a callable or such a pair is refused in one line."""
    if entry is None:
        return None
    if callable(entry):
        return (f"{key} (the env's own)", entry)
    if isinstance(entry, (tuple, list)) and len(entry) == 2 and callable(entry[1]):
        return (str(entry[0]), entry[1])
    raise NoScriptedReferences(
        f"{name}.scripted_policies()[{key!r}] must be a policy or a (description, policy) "
        f"pair, got {entry!r}"
    )


def scripted_references(env: gym.Env, episodes: int, seed: int = 0) -> dict[str, Reference]:
    """``random``, ``memoryless`` and, where the env has them, ``oracle`` and ``belief``
    references on ``env`` (module docstring), each over the ``episodes`` episodes seeded
    by ``seed``.

    The best memoryless candidate is chosen on other episodes (seeded ``seed + 1``): the
    best of several noisy means, measured on the episodes it was chosen on, overstates
    its return.

    Raises:
        NoScriptedReferences: the env has none (a ``ValueError``).
        ValueError: the env shows the latent (``oracle=True``).
    """
    candidates = _candidates(env)
    if getattr(env.unwrapped, "oracle", False):
        raise ValueError("scripted references run on the env without the oracle observation")
    memoryless = candidates.memoryless
    if len(memoryless) == 1:
        (best,) = memoryless
        described = best
    else:
        selection = {
            name: run_episodes(env, policy, episodes, seed + 1).mean()
            for name, policy in memoryless.items()
        }
        best = max(memoryless, key=selection.__getitem__)
        described = f"{best} (best of {len(memoryless)})"
    references = {
        "random": random_reference(env, episodes, seed),
        "memoryless": Reference(
            "memoryless",
            described,
            run_episodes(env, memoryless[best], episodes, seed),
            candidates.bound,
        ),
    }
    if candidates.oracle is not None:
        description, policy = candidates.oracle
        references["oracle"] = Reference(
            "oracle", description, run_episodes(env, policy, episodes, seed), candidates.bound
        )
    if candidates.belief is not None:
        description, policy = candidates.belief
        references["belief"] = Reference(
            "belief", description, run_episodes(env, policy, episodes, seed)
        )
    return references
