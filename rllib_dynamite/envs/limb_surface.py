"""The skin of ScratchItch's itchy limb, where the latent itch lives (docs/method.md §6):
surface coordinates, uniform sampling by area (``ν_m``) and the structured ``T_m``."""

from __future__ import annotations

import mujoco
import numpy as np

LIMB_GEOMS = ("right_upper_arm", "right_forearm")  # shoulder to wrist
PERSON_GROUP = 1  # MJCF geom group of the person's body parts

# Structured T_m [choice]: the itch moves along the limb (shoulder→wrist path, crossing
# the elbow) by U(ITCH_SHIFT) m in a random direction and turns around the limb by
# U(±ITCH_TURN) rad, landing at least ITCH_SHIFT[0] m (straight line) from where it was:
# it always leaves the 2.5 cm scratch radius but stays close.
ITCH_SHIFT = (0.04, 0.10)
ITCH_TURN = np.pi / 4
SURFACE_TOLERANCE = 1e-3  # m: how far off the skin a given latent may be
MAX_REJECTIONS = 1000


class LimbSurface:
    """The skin of the itchy limb: two capsules' cylinders joined at the elbow.

    A point on it has *surface coordinates* ``(s, θ)``: ``s`` is the distance along the
    limb's axis from the shoulder (upper arm for ``s < L_upper``, then forearm), ``θ``
    the angle around the axis, measured from the normal of the elbow's bending plane
    (perpendicular to both axes, so ``θ`` is continuous across the elbow). Points of
    the cylinders that lie inside another body part (the inside of the elbow bend) are
    not skin. The capsules' end caps are not part of the surface.
    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        limb_ids = [model.geom(name).id for name in LIMB_GEOMS]
        self.axes = np.stack([data.geom_xmat[i].reshape(3, 3)[:, 2] for i in limb_ids])
        self.lengths = np.array([2.0 * model.geom_size[i][1] for i in limb_ids])
        self.radii = np.array([model.geom_size[i][0] for i in limb_ids])
        self.starts = np.stack([data.geom_xpos[i] for i in limb_ids]) - (
            self.axes * self.lengths[:, None] / 2.0
        )
        self.offsets = np.array([0.0, self.lengths[0]])
        self.total_length = float(self.lengths.sum())
        bend_normal = np.cross(self.axes[0], self.axes[1])
        self.normal = bend_normal / np.linalg.norm(bend_normal)
        self.binormals = np.cross(self.axes, self.normal)
        self._others = [_capsule_of(model, data, i) for i in _person_geoms(model, limb_ids)]

    def point(self, s: float, theta: float) -> np.ndarray:
        """(3,) the skin point at surface coordinates ``(s, θ)``."""
        k = 0 if s < self.lengths[0] else 1
        along = np.clip(s - self.offsets[k], 0.0, self.lengths[k])
        radial = np.cos(theta) * self.normal + np.sin(theta) * self.binormals[k]
        return self.starts[k] + along * self.axes[k] + self.radii[k] * radial

    def coordinates(self, point: np.ndarray) -> tuple[float, float]:
        """``(s, θ)`` of a point; ``ValueError`` unless it lies on one of the limb's
        cylinders (within :data:`SURFACE_TOLERANCE`)."""
        point = np.asarray(point, dtype=np.float64)
        for k in range(len(LIMB_GEOMS)):
            offset = point - self.starts[k]
            along = float(offset @ self.axes[k])
            radial = offset - along * self.axes[k]
            on_cylinder = -SURFACE_TOLERANCE <= along <= self.lengths[k] + SURFACE_TOLERANCE
            if on_cylinder and abs(np.linalg.norm(radial) - self.radii[k]) <= SURFACE_TOLERANCE:
                theta = np.arctan2(radial @ self.binormals[k], radial @ self.normal)
                s = self.offsets[k] + np.clip(along, 0.0, self.lengths[k])
                return float(s), float(theta)
        raise ValueError(f"itch {point.tolist()} is not on the surface of the limb")

    def frame(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(outward normal, limb axis)`` (3,), (3,) of the skin at a surface point;
        ``ValueError`` as :meth:`coordinates` for a point off the cylinders."""
        s, theta = self.coordinates(point)
        k = 0 if s < self.lengths[0] else 1
        return np.cos(theta) * self.normal + np.sin(theta) * self.binormals[k], self.axes[k]

    def is_skin(self, point: np.ndarray) -> bool:
        """Whether a cylinder point is outside every other body part."""
        return all(_segment_distance(point, a, b) >= r for a, b, r in self._others)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A point drawn uniformly over the skin (by area): ``ν_m``."""
        area_weights = self.radii * self.lengths / (self.radii * self.lengths).sum()
        for _ in range(MAX_REJECTIONS):
            k = rng.choice(len(LIMB_GEOMS), p=area_weights)
            s = self.offsets[k] + rng.uniform(0.0, self.lengths[k])
            point = self.point(s, rng.uniform(-np.pi, np.pi))
            if self.is_skin(point):
                return point
        raise RuntimeError("could not sample a skin point; is the limb inside the body?")

    def neighbour(self, point: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A nearby skin point: the structured ``T_m`` (see :data:`ITCH_SHIFT`)."""
        s, theta = self.coordinates(point)
        for _ in range(MAX_REJECTIONS):
            shift = rng.choice((-1.0, 1.0)) * rng.uniform(*ITCH_SHIFT)
            if not 0.0 <= s + shift <= self.total_length:
                shift = -shift  # the limb (0.54 m) is longer than twice the largest shift
            turned = theta + rng.uniform(-ITCH_TURN, ITCH_TURN)
            moved = self.point(s + shift, np.angle(np.exp(1j * turned)))
            # Across the inside of the elbow bend a long path can be a short hop.
            if self.is_skin(moved) and np.linalg.norm(moved - point) >= ITCH_SHIFT[0]:
                return moved
        raise RuntimeError(f"no skin point near {point.tolist()}")

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(3,), (3,): a box holding the whole limb."""
        ends = np.concatenate([self.starts, self.starts + self.axes * self.lengths[:, None]])
        reach = self.radii.max()
        return ends.min(axis=0) - reach, ends.max(axis=0) + reach


def _person_geoms(model: mujoco.MjModel, exclude: list[int]) -> list[int]:
    group = np.flatnonzero(model.geom_group == PERSON_GROUP)
    return [int(i) for i in group if i not in exclude]


def _capsule_of(
    model: mujoco.MjModel, data: mujoco.MjData, geom_id: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(a, b, radius)``: a capsule or sphere geom as a segment with a radius."""
    geom_type = model.geom_type[geom_id]
    radius = float(model.geom_size[geom_id][0])
    centre = data.geom_xpos[geom_id].copy()
    if geom_type == mujoco.mjtGeom.mjGEOM_SPHERE:
        return centre, centre, radius
    if geom_type != mujoco.mjtGeom.mjGEOM_CAPSULE:
        raise ValueError(f"person geom {model.geom(geom_id).name!r} must be a capsule or sphere")
    half = data.geom_xmat[geom_id].reshape(3, 3)[:, 2] * model.geom_size[geom_id][1]
    return centre - half, centre + half, radius


def _segment_distance(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    length_sq = float(ab @ ab)
    t = 0.0 if length_sq == 0.0 else float(np.clip((point - a) @ ab / length_sq, 0.0, 1.0))
    return float(np.linalg.norm(point - (a + t * ab)))
