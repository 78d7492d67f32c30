"""The DLCMDP environment suite: session process, labels, rewards, registration, docs.

Real MuJoCo throughout. Parametrised tests cover every id in ``ENV_IDS``; an env whose
module does not exist yet (ScratchItch, written separately) is skipped with a reason.
"""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rllib_dynamite
from rllib_dynamite.envs import (
    ENTRY_POINTS,
    ENV_IDS,
    DLCMDPWrapper,
    env_class,
    env_defaults,
    make,
)
from rllib_dynamite.envs.gridnavi import GridNavi
from rllib_dynamite.envs.halfcheetah_vel import HalfCheetahVel
from rllib_dynamite.envs.reacher import TARGET_RADIUS, Reacher

DOCS = Path(__file__).resolve().parent.parent / "docs"
REWARD_ONLY_LATENT = {
    "rllib_dynamite/GridNavi-v0",
    "rllib_dynamite/PaperGridNavi-v0",
    "rllib_dynamite/Reacher-v0",
    "rllib_dynamite/HalfCheetahVel-v0",
}
# Short episodes with frequent switches keep the suite fast and exercise T_m.
SHORT = {"p": 0.2, "H": 40}


def _env_param(env_id: str) -> pytest.param:
    module = ENTRY_POINTS[env_id].split(":")[0]
    missing = importlib.util.find_spec(module) is None
    reason = f"{module} does not exist yet"
    return pytest.param(env_id, marks=pytest.mark.skipif(missing, reason=reason), id=env_id)


ALL_ENVS = [_env_param(env_id) for env_id in ENV_IDS]
REWARD_ONLY_ENVS = [_env_param(env_id) for env_id in ENV_IDS if env_id in REWARD_ONLY_LATENT]


def rollout(env: gym.Env, seed: int, num_steps: int | None = None) -> tuple[list, list, list]:
    """Observations, rewards and infos (reset's first) of one episode under fixed actions."""
    env.action_space.seed(1234)
    obs, info = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], [info]
    for _ in range(num_steps or 10**9):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            break
    return observations, rewards, infos


def same_value(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return bool(np.array_equal(a, b))


def same_trajectory(first: tuple, second: tuple) -> bool:
    return all(
        len(x) == len(y) and all(same_value(a, b) for a, b in zip(x, y, strict=True))
        for x, y in zip(first, second, strict=True)
    )


# -- every env --------------------------------------------------------------------------
@pytest.mark.parametrize("oracle", [False, True])
@pytest.mark.parametrize("env_id", ALL_ENVS)
def test_check_env(env_id, oracle):
    env = gym.make(env_id, oracle=oracle, render_mode="rgb_array")
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", ALL_ENVS)
def test_gymnasium_make_and_render(env_id):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, reward, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs) and isinstance(reward, float)
    assert env.render() is None
    env.close()
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    env.close()


@pytest.mark.parametrize("env_id", ALL_ENVS)
def test_same_seed_same_trajectory(env_id):
    first = rollout(make(env_id, **SHORT), seed=7)
    second = rollout(make(env_id, **SHORT), seed=7)
    other = rollout(make(env_id, **SHORT), seed=8)
    assert same_trajectory(first, second)
    assert not same_trajectory(first, other)


@pytest.mark.parametrize("env_id", ALL_ENVS)
def test_oracle_appends_latent(env_id):
    plain = make(env_id, **SHORT)
    oracle = make(env_id, oracle=True, **SHORT)
    latent_dim = oracle.unwrapped.latent_space.shape[0]
    obs_dim = plain.observation_space.shape[0]
    assert oracle.observation_space.shape == (obs_dim + latent_dim,)
    plain_obs, _, _ = rollout(plain, seed=3)
    oracle_obs, _, oracle_infos = rollout(oracle, seed=3)
    for task_obs, full_obs in zip(plain_obs, oracle_obs, strict=True):
        np.testing.assert_array_equal(full_obs[:obs_dim], task_obs)
    # The observation after step t carries m_{t+1}, the latent that produces step t + 1.
    for full_obs, next_info in zip(oracle_obs, oracle_infos[1:], strict=False):
        np.testing.assert_array_equal(full_obs[obs_dim:], next_info["latent"])
    np.testing.assert_array_equal(oracle_obs[-1][obs_dim:], oracle.unwrapped.latent)


@pytest.mark.parametrize("env_id", ALL_ENVS)
def test_labels_at_every_step(env_id):
    env = make(env_id, **SHORT)
    latent_shape = env.unwrapped.latent_space.shape
    _, _, infos = rollout(env, seed=0)
    assert infos[0]["session_id"] == 0 and infos[0]["session_end"] is False
    for info in infos:
        assert {"latent", "session_id", "session_end"} <= info.keys()
        assert info["latent"].shape == latent_shape
    for before, after in zip(infos[1:], infos[2:], strict=False):
        assert after["session_id"] == before["session_id"] + before["session_end"]
        if not before["session_end"]:
            np.testing.assert_array_equal(after["latent"], before["latent"])
    assert infos[-1]["session_id"] > 0  # p = 0.2 over 40 steps switches


@pytest.mark.parametrize("env_id", ALL_ENVS)
def test_p0_one_session_p1_new_session_every_step(env_id):
    _, _, infos = rollout(make(env_id, p=0.0, H=30), seed=0)
    assert all(info["session_id"] == 0 and not info["session_end"] for info in infos)
    assert all(np.array_equal(info["latent"], infos[0]["latent"]) for info in infos)
    _, _, infos = rollout(make(env_id, p=1.0, H=30), seed=0)
    steps = infos[1:]
    assert all(info["session_end"] for info in steps)
    assert [info["session_id"] for info in steps] == list(range(len(steps)))


@pytest.mark.parametrize("env_id", ALL_ENVS)
def test_bad_arguments_raise_value_error(env_id):
    cls = env_class(env_id)
    with pytest.raises(ValueError, match="unknown argument 'horizon'"):
        make(env_id, horizon=10)
    for p in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="^p must"):
            cls(p=p)
    for H in (0, -5, 2.5):
        with pytest.raises(ValueError, match="^H must"):
            cls(H=H)
    with pytest.raises(ValueError, match="latent_transition"):
        cls(latent_transition="brownian")
    env = cls()
    env.reset(seed=0)
    wrong = np.zeros(env.latent_space.shape[0] + 1, dtype=np.float32)
    with pytest.raises(ValueError, match="latent must have shape"):
        env.set_latent(wrong)
    env.close()


def test_unknown_env_id_raises_value_error():
    with pytest.raises(ValueError, match="unknown env 'rllib_dynamite/Nope-v0'"):
        make("rllib_dynamite/Nope-v0")


@pytest.mark.parametrize("env_id", ALL_ENVS)
def test_registered_with_rllib(env_id):
    from ray.tune.registry import ENV_CREATOR, _global_registry

    assert rllib_dynamite.ENV_IDS == ENV_IDS
    assert _global_registry.contains(ENV_CREATOR, env_id)
    env = _global_registry.get(ENV_CREATOR, env_id)({"p": 0.3, "H": 5})
    assert env.unwrapped.p == 0.3 and env.unwrapped.H == 5
    env.close()


# -- the session process ----------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.02])
def test_session_lengths_are_geometric(p):
    env = GridNavi(p=p, H=200_000)
    env.reset(seed=0)
    lengths, length = [], 0
    while len(lengths) < 2_000:
        *_, info = env.step(0)
        length += 1
        if info["session_end"]:
            lengths.append(length)
            length = 0
    standard_error = math.sqrt((1 - p) / p**2 / len(lengths))
    assert abs(np.mean(lengths) - 1 / p) < 3 * standard_error


@pytest.mark.parametrize("env_id", REWARD_ONLY_ENVS)
def test_latent_is_not_observable(env_id):
    rng = np.random.default_rng(0)
    envs = [make(env_id, **SHORT), make(env_id, **SHORT)]
    latents = [envs[0].unwrapped.sample_latent(rng) for _ in range(2)]
    while np.array_equal(latents[0], latents[1]):
        latents[1] = envs[0].unwrapped.sample_latent(rng)
    trajectories = []
    for env, latent in zip(envs, latents, strict=True):
        env.action_space.seed(0)
        obs, _ = env.reset(seed=5)
        env.unwrapped.set_latent(latent)
        observations = [obs]
        for t in range(SHORT["H"]):
            obs, _, _, _, info = env.step(env.action_space.sample())
            observations.append(obs)
            if t == 0:
                np.testing.assert_array_equal(info["latent"], latent)
        trajectories.append(np.array(observations))
    np.testing.assert_array_equal(trajectories[0], trajectories[1])


# -- hand-checked rewards ---------------------------------------------------------------
def test_gridnavi_rewards():
    env = GridNavi(p=0.0)
    env.reset(seed=0)
    env.set_latent(np.array([3.0, 2.0]))
    env.set_position(3, 1)
    obs, reward, *_ = env.step(1)  # up onto the goal
    np.testing.assert_array_equal(obs, [3.0, 2.0])
    assert reward == 1.0
    obs, reward, *_ = env.step(0)  # stay on it
    assert reward == 1.0
    obs, reward, *_ = env.step(2)  # right, off it
    np.testing.assert_array_equal(obs, [4.0, 2.0])
    assert reward == pytest.approx(-0.1)


def test_paper_gridnavi_pays_nothing_on_the_inactive_goal():
    env = make("rllib_dynamite/PaperGridNavi-v0", p=0.0)
    assert env_defaults("rllib_dynamite/PaperGridNavi-v0")["num_goals"] == 2
    env.reset(seed=0)
    task = env.unwrapped
    assert task.other_goal_reward == 0.0 and len(task.goal_cells) == 2
    task.set_latent(np.array([4.0, 0.0]))
    task.set_position(0, 3)
    _, reward, *_ = env.step(1)  # up onto the inactive goal (0, 4)
    assert reward == 0.0
    _, reward, *_ = env.step(3)  # down, off it
    assert reward == pytest.approx(-0.1)
    task.set_position(3, 0)
    _, reward, *_ = env.step(2)  # right onto the active goal (4, 0)
    assert reward == 1.0
    # The 2-goal GridNavi variant pays the ordinary step reward on the inactive goal.
    other = GridNavi(p=0.0, num_goals=2)
    other.reset(seed=0)
    other.set_latent(np.array([4.0, 0.0]))
    other.set_position(0, 3)
    assert other.step(1)[1] == pytest.approx(-0.1)


def test_halfcheetah_vel_reward():
    env = HalfCheetahVel(p=0.0)
    env.reset(seed=0)
    env.set_latent(np.array([1.5]))
    data, dt = env._base.data, env._base.dt
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(-1.0, 1.0, size=6).astype(np.float32)
        x_before = float(data.qpos[0])
        _, reward, _, _, info = env.step(action)
        velocity = (float(data.qpos[0]) - x_before) / dt
        assert info["x_velocity"] == pytest.approx(velocity)
        expected = -abs(velocity - 1.5) - 0.05 * float(np.sum(action.astype(np.float64) ** 2))
        assert reward == pytest.approx(expected, rel=1e-6)


def test_reacher_reward_and_target():
    env = Reacher(p=0.0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (8,)
    angle = 2.0
    env.set_latent(np.array([angle]))
    target = TARGET_RADIUS * np.array([math.cos(angle), math.sin(angle)])
    np.testing.assert_allclose(env._base.get_body_com("target")[:2], target, atol=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(-1.0, 1.0, size=2).astype(np.float32)
        obs, reward, _, _, info = env.step(action)
        fingertip = env._base.get_body_com("fingertip")
        distance = np.linalg.norm(fingertip - env._base.get_body_com("target"))
        assert info["reward_dist"] == pytest.approx(-distance)
        expected = -distance - 0.1 * float(np.sum(action.astype(np.float64) ** 2))
        assert reward == pytest.approx(expected, rel=1e-6)
        np.testing.assert_allclose(obs[6:8], fingertip[:2], atol=1e-6)
        np.testing.assert_allclose(obs[:2] ** 2 + obs[2:4] ** 2, 1.0, atol=1e-6)


def test_reacher_target_follows_latent_across_sessions():
    env = Reacher(p=1.0, H=20)
    env.reset(seed=0)
    for _ in range(20):
        env.step(env.action_space.sample())
        angle = float(env.latent[0])
        target = TARGET_RADIUS * np.array([math.cos(angle), math.sin(angle)])
        np.testing.assert_allclose(env._base.get_body_com("target")[:2], target, atol=1e-6)
        np.testing.assert_allclose(env.target_position(), target, atol=1e-6)


# -- structured latent transitions ------------------------------------------------------
def _latent_chain(env: gym.Env, num_steps: int, action: object) -> np.ndarray:
    """Latents of ``num_steps + 1`` consecutive steps under ``p = 1``."""
    _, info = env.reset(seed=0)
    latents = [info["latent"]]
    for _ in range(num_steps):
        *_, info = env.step(action)
        latents.append(env.latent)
    return np.array(latents)


@pytest.mark.parametrize("num_goals", [21, 2])
def test_gridnavi_switches_follow_derangement(num_goals):
    env = GridNavi(p=1.0, H=100_000, num_goals=num_goals)
    goals = _latent_chain(env, 3_000, action=0)
    indices = [env._goal_index(goal) for goal in goals]
    to_image = [env._goal_image[a] == b for a, b in zip(indices, indices[1:], strict=False)]
    assert np.mean(to_image) >= 0.7


def test_two_goal_switches_follow_the_documented_matrix():
    env = GridNavi(num_goals=2)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    moved = [
        not np.array_equal(env.transition_latent_structured(goal, rng), goal)
        for goal in env.goal_cells[np.arange(20_000) % 2]
    ]
    assert abs(np.mean(moved) - 0.8) < 0.01  # [[0.2, 0.8], [0.8, 0.2]], not 0.9


def test_halfcheetah_vel_jumps():
    env = HalfCheetahVel(p=1.0, H=400)
    velocities = _latent_chain(env, 300, action=np.zeros(6, dtype=np.float32))[:, 0]
    jumps = np.abs(np.diff(velocities))
    clipped = np.isin(velocities[1:], [0.0, 3.0])
    tolerance = 1e-5
    assert np.all((jumps >= 0.5 - tolerance) | clipped)
    assert np.all(jumps <= 1.5 + tolerance)
    assert np.all((velocities >= 0.0) & (velocities <= 3.0))
    assert clipped.mean() < 0.5


def test_reacher_turns():
    env = Reacher()
    rng = np.random.default_rng(0)
    start = env.sample_latent(rng)
    turns = []
    for _ in range(2_000):
        after = env.transition_latent_structured(start, rng)
        assert env.latent_space.contains(after)
        turns.append((after[0] - start[0]) % (2 * math.pi))
        start = after
    assert np.mean(turns) == pytest.approx(math.pi / 2, abs=0.01)
    assert np.std(turns) == pytest.approx(0.1, abs=0.01)


# -- docs/custom_envs.md ----------------------------------------------------------------
def _doc_blocks(language: str) -> list[str]:
    text = (DOCS / "custom_envs.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture(scope="module")
def custom_envs_doc(ray_local) -> dict:
    """The namespace left by running every ``python`` block of docs/custom_envs.md (its
    last ones train, on the tests' small local Ray)."""
    blocks = _doc_blocks("python")
    assert len(blocks) >= 2
    namespace: dict = {"__name__": "custom_envs_doc"}
    for block in blocks:
        exec(compile(block, str(DOCS / "custom_envs.md"), "exec"), namespace)
    return namespace


def test_doc_subclass_example(custom_envs_doc):
    env = custom_envs_doc["LineGoal"](p=0.3, H=30)
    obs, info = env.reset(seed=0)
    latent = info["latent"]
    for _ in range(30):
        obs, reward, _, truncated, info = env.step(np.array([0.05], dtype=np.float32))
        np.testing.assert_array_equal(info["latent"], latent)
        assert reward == pytest.approx(-abs(float(obs[0]) - float(latent[0])), abs=1e-6)
        latent = env.latent
    assert truncated and info["session_id"] > 0
    assert gym.make("my_project/LineGoal-v0", p=0.2).unwrapped.p == 0.2


def test_doc_experiment_file_loads_with_the_pages_envs_as_its_code(
    custom_envs_doc, tmp_path, monkeypatch
):
    """The page's experiment file, beside a my_envs.py made of the page's env blocks."""
    from rllib_dynamite.experiments import load_experiment

    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    (tmp_path / "my_envs.py").write_text("\n".join(_doc_blocks("python")[:2]))
    (yaml_block,) = _doc_blocks("yaml")
    (tmp_path / "line_goal.yaml").write_text(yaml_block)
    experiment = load_experiment(tmp_path / "line_goal.yaml")
    assert experiment.env == "my_envs:LineGoal" and experiment.num_trials == 2 * 3
    assert experiment.code.runtime_env() == {"py_modules": [str(tmp_path / "my_envs.py")]}


def test_doc_wrapper_example(custom_envs_doc):
    make_windy_point = custom_envs_doc["make_windy_point"]
    env = make_windy_point(p=0.25, H=40)
    check_env(env)
    obs, info = env.reset(seed=1)
    assert env.env.wind == info["latent"][0]
    position = float(obs[0])
    session_ends = 0
    for _ in range(40):
        wind = env.env.wind
        obs, reward, _, truncated, info = env.step(np.zeros(1, dtype=np.float32))
        # The latent is the wind that moved the point this step.
        assert info["latent"][0] == np.float32(wind)
        assert float(obs[0]) == pytest.approx(np.clip(position + wind, -1.0, 1.0), abs=1e-6)
        assert reward == pytest.approx(-abs(float(obs[0])), abs=1e-7)
        if info["session_end"]:
            session_ends += 1
            assert env.env.wind == pytest.approx(-wind)
        else:
            assert env.env.wind == wind
        assert env.env.wind == pytest.approx(float(env.latent[0]))
        position = float(obs[0])
    assert truncated and session_ends == info["session_id"] + info["session_end"] > 0
    oracle = make_windy_point(oracle=True)
    obs, info = oracle.reset(seed=1)
    assert obs.shape == (2,) and obs[1] == info["latent"][0]


def test_a_non_finite_reward_fails_the_step_with_one_clear_error():
    """A NaN reward from a user's task is an env error, never a silent training signal."""

    class NaNReward(DLCMDPWrapper):
        def _step_task(self, action):
            obs, _, terminated, info = super()._step_task(action)
            return obs, float("nan"), terminated, info

    base = gym.make("CartPole-v1")
    env = NaNReward(
        base,
        sample_latent=lambda rng: np.zeros(1, np.float32),
        transition_latent=lambda latent, rng: latent,
        apply_latent=lambda env, latent: None,
        latent_space=gym.spaces.Box(-1.0, 1.0, (1,), np.float32),
        p=0.1,
        H=10,
    )
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"NaNReward returned a non-finite reward \(nan\)"):
        env.step(0)


def _cartpole_dlcmdp(sample_latent, transition_latent, shape=(1,)):
    return DLCMDPWrapper(
        gym.make("CartPole-v1"),
        sample_latent=sample_latent,
        transition_latent=transition_latent,
        apply_latent=lambda env, latent: None,
        latent_space=gym.spaces.Box(-1.0, 1.0, shape, np.float32),
        p=1.0,
        H=5,
    )


def test_the_wrapper_converts_a_scalar_or_list_latent_to_the_latent_space():
    env = _cartpole_dlcmdp(lambda rng: 0.5, lambda latent, rng: [-float(latent[0])])
    _, info = env.reset(seed=0)
    assert info["latent"].shape == (1,) and info["latent"].dtype == np.float32
    env.step(0)  # p=1: the session ends, and transition_latent's list becomes the latent
    assert env.latent.shape == (1,) and env.latent.dtype == np.float32
    assert env.latent[0] == -0.5
    pair = _cartpole_dlcmdp(lambda rng: [0.1, 0.2], lambda latent, rng: latent, shape=(2,))
    pair.reset(seed=0)
    np.testing.assert_array_equal(pair.latent, np.array([0.1, 0.2], np.float32))


@pytest.mark.parametrize(
    "sample_latent, transition_latent, role, got",
    [
        (lambda rng: [0.1, 0.2], lambda latent, rng: latent, "sample_latent", "shape (2,)"),
        (lambda rng: np.zeros((1, 1)), lambda latent, rng: latent, "sample_latent", "(1, 1)"),
        (lambda rng: "high", lambda latent, rng: latent, "sample_latent", "'high'"),
        (lambda rng: 0.0, lambda latent, rng: np.zeros(3), "transition_latent", "shape (3,)"),
    ],
    ids=["list-too-long", "wrong-shape", "not-a-number", "transition"],
)
def test_the_wrapper_refuses_a_latent_of_the_wrong_shape_naming_the_callable(
    sample_latent, transition_latent, role, got
):
    env = _cartpole_dlcmdp(sample_latent, transition_latent)
    with pytest.raises(ValueError) as raised:
        env.reset(seed=0)
        env.step(0)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{role} (") and "test_envs.py:" in message and got in message
    assert "not a latent of latent_space Box(-1.0, 1.0, (1,), float32)" in message
