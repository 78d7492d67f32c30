"""ScratchItch on real MuJoCo physics: spaces, seeding, the hidden itch, T_m, the scratch rule."""

from __future__ import annotations

import os

# Off-screen rendering through EGL: MuJoCo picks its GL backend when first imported.
os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from rllib_dynamite.envs import make  # noqa: E402
from rllib_dynamite.envs.limb_surface import ITCH_SHIFT, ITCH_TURN, LIMB_GEOMS  # noqa: E402
from rllib_dynamite.envs.scratch_itch import (  # noqa: E402
    ACTION_SCALE,
    ScratchItch,
    reward_terms,
    scratch_rule,
)
from rllib_dynamite.evaluation.metrics import episode_info_metrics  # noqa: E402

TOOL_RADIUS = 0.02
ROBOT_SIDE = np.array([0.0, -1.0, 0.6])  # a skin direction the arm reaches without detours


def skin_point(env: ScratchItch, s: float, direction: np.ndarray = ROBOT_SIDE) -> np.ndarray:
    """The skin point at distance ``s`` from the shoulder facing ``direction``."""
    k = 0 if s < env.limb.lengths[0] else 1
    theta = np.arctan2(direction @ env.limb.binormals[k], direction @ env.limb.normal)
    return env.limb.point(s, theta)


def outward(env: ScratchItch, point: np.ndarray) -> np.ndarray:
    """Unit normal of the skin at ``point``."""
    s, theta = env.limb.coordinates(point)
    k = 0 if s < env.limb.lengths[0] else 1
    return np.cos(theta) * env.limb.normal + np.sin(theta) * env.limb.binormals[k]


def place_tool(env: ScratchItch, target: np.ndarray) -> None:
    """Set the arm at rest with the tool centre at ``target`` (damped least-squares IK)."""
    model, data = env.model, env.data
    site = model.site("tool").id
    jacobian = np.zeros((3, model.nv))
    for _ in range(300):
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        error = target - data.site_xpos[site]
        if np.linalg.norm(error) < 1e-7:
            break
        mujoco.mj_jacSite(model, data, jacobian, None, site)
        damped = jacobian @ jacobian.T + 1e-6 * np.eye(3)
        data.qpos[:] += jacobian.T @ np.linalg.solve(damped, error)
    assert np.linalg.norm(error) < 1e-6
    data.qvel[:] = 0.0
    data.ctrl[:] = data.qpos
    mujoco.mj_forward(model, data)


def push_action(env: ScratchItch, direction: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """The action that moves the tool along ``direction`` (m) through the joint servos."""
    jacobian = np.zeros((3, env.model.nv))
    mujoco.mj_jacSite(env.model, env.data, jacobian, None, env.model.site("tool").id)
    dq = jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + 1e-4 * np.eye(3), direction)
    return np.clip(gain * dq / ACTION_SCALE, -1.0, 1.0).astype(np.float32)


def touch(env: ScratchItch, skin: np.ndarray, depth: float = 0.002) -> dict:
    """Put the tool ``depth`` into the skin at ``skin`` and take one zero-action step."""
    place_tool(env, skin + outward(env, skin) * (TOOL_RADIUS - depth))
    return env.step(np.zeros(7, dtype=np.float32))[4]


def expected_reward(info: dict, action: np.ndarray) -> float:
    high_force = info["force_at_itch"] if info["force_at_itch"] >= 10.0 else 0.0
    return (
        -info["distance"]
        - 0.01 * np.linalg.norm(action)
        + 5.0 * info["scratch"]
        - 0.25 * info["tool_speed"]
        - 0.01 * info["force_away"]
        - 0.05 * high_force
    )


def distance_to_limb_axes(env: ScratchItch, point: np.ndarray) -> list[tuple[float, float]]:
    """(distance from the axis, position along it in [0, 1]) for each limb capsule,
    computed from the compiled model, independently of :class:`LimbSurface`."""
    result = []
    for name in LIMB_GEOMS:
        i = env.model.geom(name).id
        axis = env.data.geom_xmat[i].reshape(3, 3)[:, 2]
        half = env.model.geom_size[i][1]
        offset = point - (env.data.geom_xpos[i] - half * axis)
        along = offset @ axis
        result.append((float(np.linalg.norm(offset - along * axis)), float(along / (2 * half))))
    return result


def assert_on_skin(env: ScratchItch, point: np.ndarray) -> None:
    radii = [env.model.geom(name).size[0] for name in LIMB_GEOMS]
    matches = [
        abs(distance - radius) < 1e-4 and -1e-4 <= along <= 1 + 1e-4
        for (distance, along), radius in zip(distance_to_limb_axes(env, point), radii, strict=True)
    ]
    assert any(matches), point
    assert env.limb.is_skin(point.astype(np.float64)), point


@pytest.fixture
def env():
    env = ScratchItch(p=0.0)
    env.reset(seed=0)
    yield env
    env.close()


@pytest.mark.filterwarnings("ignore:.*infinity")  # joint velocities are unbounded
def test_check_env_and_spaces():
    env = make("rllib_dynamite/ScratchItch-v0")
    check_env(env.unwrapped)
    unwrapped = env.unwrapped
    assert (unwrapped.p, unwrapped.H) == (0.01, 200)
    assert unwrapped.observation_space.shape == (21,)
    assert unwrapped.action_space.shape == (7,)
    assert unwrapped.latent_space.shape == (3,)
    env.close()


def test_observation_holds_the_arm_and_tool_and_oracle_appends_the_itch():
    env = ScratchItch(oracle=True)
    obs, info = env.reset(seed=1)
    assert obs.shape == (24,)
    np.testing.assert_array_equal(obs[-3:], info["latent"])
    obs, _, _, _, info = env.step(env.action_space.sample())
    data = env.data
    np.testing.assert_allclose(obs[:7], data.qpos, rtol=1e-6)
    np.testing.assert_allclose(obs[7:14], data.qvel, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(obs[14:17], data.site_xpos[env.model.site("tool").id], rtol=1e-6)
    np.testing.assert_array_equal(obs[env.tool_position_slice], obs[14:17])
    assert obs[20] == pytest.approx(info["tool_force"])


def test_reset_is_reproducible_by_seed():
    first, second = ScratchItch(p=0.2), ScratchItch(p=0.2)
    obs_a, info_a = first.reset(seed=3)
    obs_b, info_b = second.reset(seed=3)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(info_a["latent"], info_b["latent"])
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 7)).astype(np.float32)
    for action in actions:
        step_a, step_b = first.step(action), second.step(action)
        np.testing.assert_array_equal(step_a[0], step_b[0])
        assert step_a[1] == step_b[1]
        np.testing.assert_array_equal(step_a[4]["latent"], step_b[4]["latent"])
    obs_c, info_c = second.reset(seed=4)
    assert not np.array_equal(obs_a, obs_c)
    assert not np.array_equal(info_a["latent"], info_c["latent"])


def test_the_itch_is_not_observed():
    """Two itches, same seed and actions: the observations never differ, the rewards do."""
    envs = [ScratchItch(p=0.3), ScratchItch(p=0.3)]
    for env in envs:
        env.reset(seed=5)
    envs[0].set_latent(skin_point(envs[0], 0.12))
    envs[1].set_latent(skin_point(envs[1], 0.40, direction=np.array([0.0, 0.0, 1.0])))
    target = skin_point(envs[0], 0.12)
    touched = rewards_differ = False
    for _ in range(60):
        tool = envs[0].data.site_xpos[envs[0].model.site("tool").id]
        action = push_action(envs[0], target - tool, gain=0.3)
        (obs_a, reward_a, *_, info_a), (obs_b, reward_b, *_, _) = (e.step(action) for e in envs)
        np.testing.assert_array_equal(obs_a, obs_b)
        touched |= info_a["tool_force"] > 0.0
        rewards_differ |= reward_a != reward_b
    assert touched and rewards_differ


def test_initial_itch_is_uniform_over_the_skin(env):
    rng = np.random.default_rng(0)
    itches = np.array([env.sample_latent(rng) for _ in range(1000)])
    for itch in itches[:200]:
        assert_on_skin(env, itch)
        assert env.latent_space.contains(itch)
    on_upper_arm = np.array([env.limb.coordinates(i)[0] < env.limb.lengths[0] for i in itches])
    upper, fore = 0.279 * 0.043, 0.257 * 0.033  # area ∝ length × radius
    assert on_upper_arm.mean() == pytest.approx(upper / (upper + fore), abs=0.05)
    thetas = np.array([env.limb.coordinates(i)[1] for i in itches])
    assert np.histogram(thetas, bins=4, range=(-np.pi, np.pi))[0].min() > 150


def test_structured_transition_moves_to_a_neighbouring_skin_point(env):
    rng = np.random.default_rng(1)
    itch = env.sample_latent(rng)
    crossed_elbow = False
    for _ in range(400):
        moved = env.transition_latent_structured(itch, rng)
        assert_on_skin(env, moved)
        (s, theta), (s_new, theta_new) = env.limb.coordinates(itch), env.limb.coordinates(moved)
        assert ITCH_SHIFT[0] - 1e-4 <= abs(s_new - s) <= ITCH_SHIFT[1] + 1e-4
        assert abs(np.angle(np.exp(1j * (theta_new - theta)))) <= ITCH_TURN + 1e-4
        assert ITCH_SHIFT[0] - 1e-4 <= np.linalg.norm(moved - itch) < 0.2
        crossed_elbow |= (s < env.limb.lengths[0]) != (s_new < env.limb.lengths[0])
        itch = moved
    assert crossed_elbow


def test_session_ends_move_the_itch_and_its_marker():
    env = ScratchItch(p=1.0)
    env.reset(seed=2)
    site = env.model.site("itch").id
    for _ in range(20):
        previous = env.latent.copy()
        *_, info = env.step(env.action_space.sample())
        assert info["session_end"]
        assert ITCH_SHIFT[0] - 1e-4 <= np.linalg.norm(env.latent - previous) < 0.2
        assert_on_skin(env, env.latent)
        np.testing.assert_allclose(env.data.site_xpos[site], env.latent, atol=1e-6)


def test_scratch_rule_by_hand():
    itch = np.array([0.1, -0.3, 0.8])
    near = itch + np.array([0.0, 0.0, 0.02])
    assert scratch_rule(near, 5.0, itch, None)  # the first touch near the itch counts
    assert not scratch_rule(near, 10.0, itch, None)  # not gentle enough
    assert not scratch_rule(itch + np.array([0.0, 0.0, 0.026]), 5.0, itch, None)  # too far
    assert not scratch_rule(None, 0.0, itch, None)  # no touch
    moved_little, moved_enough = near + [0.009, 0.0, 0.0], near + [0.011, 0.0, 0.0]
    assert not scratch_rule(moved_little, 5.0, itch, last_scratch_pos=near)
    assert scratch_rule(moved_enough, 5.0, itch, last_scratch_pos=near)


def test_gentle_touches_on_the_itch_scratch_once_per_centimetre(env):
    itch = skin_point(env, 0.14)
    env.set_latent(itch)
    info = touch(env, itch)
    assert info["scratch"] and 0.0 < info["force_at_itch"] < 10.0
    assert info["force_at_itch"] == pytest.approx(info["force_on_person"])
    assert info["distance"] == pytest.approx(TOOL_RADIUS, abs=3e-3)
    assert info["reward_scratch"] == 5.0

    info = touch(env, itch)  # the same spot again: no movement along the skin
    assert info["force_at_itch"] > 0.0 and not info["scratch"]

    axis = env.limb.axes[0]
    info = touch(env, skin_point(env, 0.14 + 0.006))
    assert info["force_at_itch"] > 0.0 and not info["scratch"]
    info = touch(env, skin_point(env, 0.14 + 0.015))  # 1.5 cm from the last scratch
    assert info["force_at_itch"] > 0.0 and info["scratch"]
    assert np.linalg.norm(env._last_scratch_pos - itch) == pytest.approx(0.015, abs=3e-3)
    assert abs((env._last_scratch_pos - itch) @ axis) > 0.01


def test_evaluation_metrics_count_scratches_and_forces_on_the_person(env):
    """The metrics ScratchItch declares for evaluation, over real touches: two scratches,
    one touch at the itch that does not count, one away from it."""
    itch = skin_point(env, 0.14)
    env.set_latent(itch)
    infos = [
        touch(env, itch),
        touch(env, itch),  # the same spot: force at the itch, no scratch
        touch(env, skin_point(env, 0.14 + 0.015)),
        touch(env, skin_point(env, 0.14 - 0.05)),  # 5 cm away: force away only
    ]
    assert [info["scratch"] for info in infos] == [True, False, True, False]
    metrics = episode_info_metrics(infos, env.metadata["evaluation_metrics"])
    at_itch = [info["force_at_itch"] for info in infos]
    assert metrics["scratches_per_episode"] == 2.0
    assert metrics["force_at_itch_mean"] == pytest.approx(np.mean(at_itch))
    assert metrics["force_at_itch_max"] == pytest.approx(max(at_itch)) and max(at_itch) < 10.0
    assert metrics["force_away_mean"] == pytest.approx(infos[3]["force_away"] / 4)
    assert infos[3]["force_away"] > 0.0


def test_hard_and_distant_touches_do_not_scratch(env):
    itch = skin_point(env, 0.40)
    env.set_latent(itch)
    place_tool(env, itch + outward(env, itch) * (TOOL_RADIUS - 0.001))
    action = push_action(env, -outward(env, itch) * 0.05)
    _, reward, _, _, info = env.step(action)
    assert info["force_at_itch"] >= 10.0 and not info["scratch"]
    assert info["reward_high_force"] == pytest.approx(-0.05 * info["force_at_itch"])
    assert reward == pytest.approx(expected_reward(info, action))

    env.reset(seed=0)
    env.set_latent(itch)
    info = touch(env, skin_point(env, 0.40 - 0.05))  # 5 cm from the itch
    assert info["tool_force"] > 0.0 and info["force_at_itch"] == 0.0 and not info["scratch"]
    assert info["force_away"] == pytest.approx(info["tool_force"])
    assert info["reward_force_away"] == pytest.approx(-0.01 * info["force_away"])


def test_reward_is_the_sum_of_its_terms(env):
    rng = np.random.default_rng(3)
    itch = skin_point(env, 0.2)
    env.set_latent(itch)
    place_tool(env, itch + outward(env, itch) * 0.05)
    for _ in range(25):
        action = push_action(env, itch - env.data.sensordata[:3], gain=0.4)
        action = np.clip(action + rng.normal(0, 0.2, 7), -1, 1).astype(np.float32)
        _, reward, _, _, info = env.step(action)
        assert reward == pytest.approx(expected_reward(info, action))
        terms = {key: value for key, value in info.items() if key.startswith("reward_")}
        assert reward == pytest.approx(sum(terms.values()))
    high = reward_terms(0.1, 1.0, False, 0.2, 3.0, 12.0)
    assert high["reward_high_force"] == pytest.approx(-0.6)
    assert sum(high.values()) == pytest.approx(-0.1 - 0.01 - 0.05 - 0.03 - 0.6)


def test_bad_input_raises(env):
    with pytest.raises(ValueError, match="shape"):
        env.set_latent(np.zeros(2))
    with pytest.raises(ValueError, match="surface"):
        env.set_latent(np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(6))
    with pytest.raises(ValueError, match="frame_skip"):
        ScratchItch(frame_skip=0)
    with pytest.raises(ValueError, match="p must"):
        ScratchItch(p=1.5)


def test_render_shows_the_itch_marker():
    env = ScratchItch(render_mode="rgb_array")
    env.reset(seed=0)
    env.set_latent(skin_point(env, 0.14))
    first = env.render()
    env.set_latent(skin_point(env, 0.40))
    second = env.render()
    assert first.shape == (480, 640, 3) and first.dtype == np.uint8
    assert not np.array_equal(first, second)
    env.close()
