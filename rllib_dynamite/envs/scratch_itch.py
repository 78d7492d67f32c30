"""ScratchItch: a 7-DoF arm scratches an itch on a seated person's arm (docs/method.md §6).

A MuJoCo scene written for this project (``assets/scratch_itch.xml``) stands in for
Assistive Gym's ScratchItch: a chain of seven position-servoed hinges with a small tool
sphere beside a static seated person whose right upper arm and forearm are capsules of
Assistive Gym's male sizes. The itch, a point on the surface of that limb, is the latent
context: it is *not* in the observation, and it moves to a neighbouring spot on the limb
when a session ends. The reward keeps Assistive Gym's ScratchItch terms.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

from rllib_dynamite.envs.dlcmdp import DLCMDPEnv
from rllib_dynamite.envs.limb_surface import (
    LIMB_GEOMS,
    PERSON_GROUP,
    SURFACE_TOLERANCE,
    LimbSurface,
)

MODEL_PATH = Path(__file__).with_name("assets") / "scratch_itch.xml"
TOOL_GEOM = "tool"
ITCH_SITE = "itch"
CAMERA = "side"

# The scratch rule and reward weights: Assistive Gym's ScratchItch.
SCRATCH_RADIUS = 0.025  # m: a touch this close to the itch is on the itch
SCRATCH_MAX_FORCE = 10.0  # N: a scratch must be gentler than this
SCRATCH_MIN_MOVE = 0.01  # m: along the skin since the last counted scratch
SCRATCH_REWARD = 5.0
DISTANCE_WEIGHT = 1.0
ACTION_WEIGHT = 0.01
VELOCITY_WEIGHT = 0.25
FORCE_AWAY_WEIGHT = 0.01
HIGH_FORCE_WEIGHT = 0.05

# Control [choice]: an action moves each joint's servo target from the current joint
# angle by up to ACTION_SCALE rad, as Assistive Gym's position control does.
ACTION_SCALE = 0.05
# The tool starts ~23 cm from the skin, beside and above the elbow, at this pose plus
# U(±INIT_NOISE) rad per joint.
HOME_QPOS = np.array([1.7, -0.45, 0.3, 1.45, 0.15, 1.45, 0.0])
INIT_NOISE = 0.05


def scratch_rule(
    contact_pos: np.ndarray | None,
    contact_force: float,
    itch: np.ndarray,
    last_scratch_pos: np.ndarray | None,
) -> bool:
    """Whether a touch of the tool on the limb counts as a scratch.

    It counts when it is within :data:`SCRATCH_RADIUS` of the itch, pushes with less than
    :data:`SCRATCH_MAX_FORCE`, and lies more than :data:`SCRATCH_MIN_MOVE` from the last
    counted scratch (straight-line distance, ≈ distance along the skin at this scale).

    Args:
        contact_pos: (3,) the tool-limb contact point nearest the itch, or ``None``.
        contact_force: N, total normal force of the tool-limb contacts near the itch.
        itch: (3,) the itch.
        last_scratch_pos: (3,) contact point of the last counted scratch, or ``None``
            when none counted yet this episode (then the first touch counts).
    """
    if contact_pos is None or contact_force >= SCRATCH_MAX_FORCE:
        return False
    if np.linalg.norm(contact_pos - itch) >= SCRATCH_RADIUS:
        return False
    if last_scratch_pos is None:
        return True
    return bool(np.linalg.norm(contact_pos - last_scratch_pos) > SCRATCH_MIN_MOVE)


def reward_terms(
    distance: float,
    action_norm: float,
    scratched: bool,
    tool_speed: float,
    force_away: float,
    force_at_itch: float,
) -> dict[str, float]:
    """The weighted reward terms; the reward is their sum (docs/method.md §6).

    ``−‖tool − itch‖ − 0.01‖a‖ + 5·[scratch]`` minus the person's preference penalties:
    ``0.25·tool speed``, ``0.01·force on the person away from the itch`` and
    ``0.05·force at the itch``, the last only once that force reaches 10 N (Assistive
    Gym penalises the whole force then, not its excess over 10 N).
    """
    high_force = force_at_itch if force_at_itch >= SCRATCH_MAX_FORCE else 0.0
    return {
        "reward_distance": -DISTANCE_WEIGHT * distance,
        "reward_action": -ACTION_WEIGHT * action_norm,
        "reward_scratch": SCRATCH_REWARD * float(scratched),
        "reward_velocity": -VELOCITY_WEIGHT * tool_speed,
        "reward_force_away": -FORCE_AWAY_WEIGHT * force_away,
        "reward_high_force": -HIGH_FORCE_WEIGHT * high_force,
    }


class ScratchItch(DLCMDPEnv):
    """A 7-DoF arm must find and gently scratch an unobserved itch on a person's arm.

    * **Latent** ``m``: the itch, a (3,) world point on the skin of the right upper arm
      or forearm (see :class:`LimbSurface`). ``ν_m``: uniform over the skin by area.
      Structured ``T_m``: a nearby skin point, 4-10 cm along the limb, up to 45° around
      it and at least 4 cm away (:meth:`LimbSurface.neighbour`). The itch has no
      physical effect.
    * **Observation** (21,): joint angles (7), joint velocities (7), tool position (3),
      tool velocity (3), and the normal force of the tool on the person (1, N).
    * **Action** (7,) in [-1, 1]: each joint's servo target becomes its current angle
      plus ``0.05·a`` rad.
    * **Reward**: :func:`reward_terms`, with a scratch decided by :func:`scratch_rule`.
      ``info`` carries every term and the quantities behind them.

    Args:
        p: session switch probability (default 0.01).
        H: horizon (default 200).
        latent_transition: ``"structured"`` or ``"uniform"``.
        oracle: append the itch to the observation.
        render_mode: ``None`` or ``"rgb_array"`` (640×480, the itch as a red dot).
        frame_skip: physics steps of 5 ms per env step (default 10: 20 Hz control).
    """

    # What a person would ask of the robot, per episode, reported by evaluation
    # (rllib_dynamite/evaluation/rollout.py): how often it scratched, how hard it
    # pressed at the itch (N, per step and at most) and on the person elsewhere.
    metadata = {
        **DLCMDPEnv.metadata,
        "evaluation_metrics": {
            "scratches_per_episode": ("scratch", "sum"),
            "force_at_itch_mean": ("force_at_itch", "mean"),
            "force_at_itch_max": ("force_at_itch", "max"),
            "force_away_mean": ("force_away", "mean"),
        },
    }

    def __init__(
        self,
        p: float = 0.01,
        H: int = 200,
        latent_transition: str = "structured",
        oracle: bool = False,
        render_mode: str | None = None,
        frame_skip: int = 10,
    ) -> None:
        super().__init__(p, H, latent_transition, oracle, render_mode)
        if isinstance(frame_skip, bool) or not isinstance(frame_skip, int) or frame_skip <= 0:
            raise ValueError(f"frame_skip must be a positive integer, got {frame_skip!r}")
        self.frame_skip = frame_skip
        self.model = mujoco.MjModel.from_xml_path(str(MODEL_PATH))
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)
        self.limb = LimbSurface(self.model, self.data)

        self._tool_geom = self.model.geom(TOOL_GEOM).id
        self._itch_site = self.model.site(ITCH_SITE).id
        self._is_person = self.model.geom_group == PERSON_GROUP
        self._is_limb = np.zeros(self.model.ngeom, dtype=bool)
        self._is_limb[[self.model.geom(name).id for name in LIMB_GEOMS]] = True
        self._ctrl_low, self._ctrl_high = self.model.actuator_ctrlrange.T.copy()
        sensors = self.model.sensor("tool_pos").adr[0]  # tool position, then its velocity
        self._tool_sensors = slice(sensors, sensors + 6)
        self._force_buffer = np.zeros(6)
        self._last_scratch_pos: np.ndarray | None = None
        self._renderer: mujoco.Renderer | None = None

        nq, nu = self.model.nq, self.model.nu
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2 * nq + 7,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (nu,), np.float32)
        low, high = self.limb.bounds()
        self.latent_space = gym.spaces.Box(
            (low - SURFACE_TOLERANCE).astype(np.float32),
            (high + SURFACE_TOLERANCE).astype(np.float32),
            dtype=np.float32,
        )
        self._finish_spaces()

    # -- the latent ---------------------------------------------------------------
    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return self.limb.sample(rng).astype(np.float32)

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        return self.limb.neighbour(latent, rng).astype(np.float32)

    def set_latent(self, latent: np.ndarray) -> None:
        """Set the itch; ``ValueError`` for a wrong shape or a point off the skin."""
        latent = np.asarray(latent, dtype=np.float32)
        if latent.shape == self.latent_space.shape:
            self.limb.coordinates(latent)
        super().set_latent(latent)

    def _on_latent_change(self) -> None:
        # The marker is a world site: moving it changes nothing but the picture.
        self.model.site_pos[self._itch_site] = self._latent
        self.data.site_xpos[self._itch_site] = self._latent

    # -- the task -----------------------------------------------------------------
    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = HOME_QPOS + rng.uniform(-INIT_NOISE, INIT_NOISE, self.model.nq)
        self.data.ctrl[:] = self.data.qpos
        mujoco.mj_forward(self.model, self.data)
        self._last_scratch_pos = None
        tool_force, *_ = self._read_contacts(self._latent)
        return self._observation(tool_force)

    def _step_task(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.action_space.shape:
            raise ValueError(
                f"action must have shape {self.action_space.shape}, got {action.shape}"
            )
        action = np.clip(action, -1.0, 1.0)
        data = self.data
        np.clip(data.qpos + ACTION_SCALE * action, self._ctrl_low, self._ctrl_high, out=data.ctrl)
        mujoco.mj_step(self.model, data, nstep=self.frame_skip)
        # Recompute positions, contacts and forces at the new state, so observation and
        # reward describe the same instant.
        mujoco.mj_forward(self.model, data)

        itch = self._latent
        tool_force, force_on_person, force_at_itch, contact_pos = self._read_contacts(itch)
        tool = data.sensordata[self._tool_sensors]
        distance = float(np.linalg.norm(tool[:3] - itch))
        tool_speed = float(np.linalg.norm(tool[3:]))
        scratched = scratch_rule(contact_pos, force_at_itch, itch, self._last_scratch_pos)
        if scratched:
            self._last_scratch_pos = contact_pos
        force_away = force_on_person - force_at_itch
        terms = reward_terms(
            distance,
            float(np.linalg.norm(action)),
            scratched,
            tool_speed,
            force_away,
            force_at_itch,
        )
        info = {
            "distance": distance,
            "scratch": scratched,
            "tool_speed": tool_speed,
            "tool_force": tool_force,
            "force_at_itch": force_at_itch,
            "force_on_person": force_on_person,
            "force_away": force_away,
            **terms,
        }
        return self._observation(tool_force), sum(terms.values()), False, info

    def _read_contacts(self, itch: np.ndarray) -> tuple[float, float, float, np.ndarray | None]:
        """Normal forces (N) from ``data.contact``: ``(tool on person, robot on person,
        tool on limb within the scratch radius, the tool-limb contact point nearest the
        itch or None)``. Robot geoms only ever touch person and furniture geoms."""
        tool_force = force_on_person = force_at_itch = 0.0
        contact_pos, nearest = None, np.inf
        ncon = self.data.ncon
        if ncon == 0:
            return tool_force, force_on_person, force_at_itch, contact_pos
        pairs, positions = self.data.contact.geom, self.data.contact.pos
        for i in range(ncon):
            first, second = pairs[i]
            person = second if self._is_person[second] else first
            if not self._is_person[person]:
                continue  # robot on furniture or floor
            mujoco.mj_contactForce(self.model, self.data, i, self._force_buffer)
            normal = float(self._force_buffer[0])
            force_on_person += normal
            if self._tool_geom not in (first, second):
                continue
            tool_force += normal
            if self._is_limb[person]:
                to_itch = float(np.linalg.norm(positions[i] - itch))
                if to_itch < SCRATCH_RADIUS:
                    force_at_itch += normal
                if to_itch < nearest:
                    contact_pos, nearest = positions[i].copy(), to_itch
        return tool_force, force_on_person, force_at_itch, contact_pos

    @property
    def tool_position_slice(self) -> slice:
        """Where the tool's position (m, world frame) lies in the observation."""
        nq = self.model.nq
        return slice(2 * nq, 2 * nq + 3)

    def _observation(self, tool_force: float) -> np.ndarray:
        nq = self.model.nq
        obs = np.empty(self._task_observation_space.shape, dtype=np.float32)
        obs[:nq] = self.data.qpos
        obs[nq : 2 * nq] = self.data.qvel
        obs[2 * nq : -1] = self.data.sensordata[self._tool_sensors]
        obs[-1] = tool_force
        return obs

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, height=480, width=640)
        self._renderer.update_scene(self.data, camera=CAMERA)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
