"""Offline DynaMITE-RL: datasets, their checks, belief relabelling, the whole pipeline."""

import argparse
import json

import gymnasium as gym
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from rllib_dynamite.offline.belief import (
    build_belief_module,
    episode_tensors,
    relabel,
    surprise_session_ids,
    train_belief_model,
)
from rllib_dynamite.offline.cli import OFFLINE_COMMANDS, add_offline_commands
from rllib_dynamite.offline.collect import collect, random_episodes
from rllib_dynamite.offline.dataset import (
    CARD_FILE,
    CORE_COLUMNS,
    LABEL_COLUMNS,
    DatasetError,
    DatasetNotFoundError,
    EpisodeArrays,
    read_dataset,
    write_dataset,
)
from rllib_dynamite.offline.noise import EpsilonRandomActions
from rllib_dynamite.offline.pipeline import plan_offline
from rllib_dynamite.offline.rl import returns_to_go
from rllib_dynamite.offline.settings import offline_settings

GRIDNAVI = "rllib_dynamite/GridNavi-v0"
SHORT = {"H": 12}  # short episodes keep every test quick


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("offline") / "gridnavi"
    collect(path, policy="random", num_episodes=6, env=GRIDNAVI, env_config=SHORT, seed=0)
    return path


def _parse(*argv):
    parser = argparse.ArgumentParser()
    add_offline_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


# -- datasets --------------------------------------------------------------------------
def test_round_trip_keeps_every_column_dtype_and_label(dataset_dir):
    episodes = random_episodes(GRIDNAVI, SHORT, 6, seed=0)
    dataset = read_dataset(dataset_dir)
    card = dataset.card
    assert (card.env, card.env_config, card.episodes, card.steps) == (GRIDNAVI, SHORT, 6, 72)
    assert card.behaviour_policy["kind"] == "random" and card.session_labels
    returns = [e.episode_return for e in episodes]
    assert card.return_mean == pytest.approx(np.mean(returns))
    schema = pq.read_schema(dataset.parquet_files[0])
    assert set(schema.names) == set(CORE_COLUMNS + LABEL_COLUMNS)
    assert {f.name: str(f.type) for f in schema} == card.columns
    for written, read in zip(episodes, dataset.episodes, strict=True):
        for name in ("obs", "actions", "rewards", "session_ids", "session_ends", "latents"):
            expected, actual = getattr(written, name), getattr(read, name)
            np.testing.assert_array_equal(actual, expected.astype(actual.dtype))
        assert read.obs.dtype == np.float32 and read.actions.dtype == np.int64
        assert read.session_ids.dtype == np.int64 and read.session_ends.dtype == bool
        assert (read.terminated, read.truncated) == (written.terminated, written.truncated)


def test_round_trip_of_box_actions_and_unlabelled_episodes(tmp_path):
    rng = np.random.default_rng(0)
    episodes = [
        EpisodeArrays(
            obs=rng.normal(size=(length + 1, 3)).astype(np.float32),
            actions=rng.uniform(-1, 1, size=(length, 2)).astype(np.float32),
            rewards=rng.normal(size=length).astype(np.float32),
            terminated=length == 4,
            truncated=length != 4,
        )
        for length in (4, 7)
    ]
    box = {"type": "box", "shape": [2], "low": [-1, -1], "high": [1, 1]}
    write_dataset(tmp_path / "d", episodes, env="x", env_config={}, behaviour_policy={},
                  action_space=box)  # fmt: skip
    dataset = read_dataset(tmp_path / "d")
    assert not dataset.card.session_labels and not dataset.has_session_labels
    for written, read in zip(episodes, dataset.episodes, strict=True):
        np.testing.assert_array_equal(read.obs, written.obs)
        np.testing.assert_array_equal(read.actions, written.actions)
        assert read.actions.dtype == np.float32
        assert (read.terminated, read.truncated) == (written.terminated, written.truncated)


def _copy(dataset_dir, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(dataset_dir, target)
    return target, target / "part-00000.parquet"


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_rewards(path):
    pq.write_table(pq.read_table(path).drop_columns(["rewards"]), path)


def _edit_card(path, **changes):
    card_path = path.parent / CARD_FILE
    card = json.loads(card_path.read_text())
    card.update(changes)
    card_path.write_text(json.dumps(card))


@pytest.mark.parametrize(
    "damage, error, message",
    [
        (lambda f: f.unlink(), DatasetNotFoundError, "part-00000.parquet: data file listed"),
        (lambda f: (f.parent / CARD_FILE).unlink(), DatasetNotFoundError, "missing dataset card"),
        (_truncate, DatasetError, "part-00000.parquet: truncated"),
        (_drop_rewards, DatasetError, "part-00000.parquet: missing column 'rewards'"),
        (lambda f: _edit_card(f, steps=71), DatasetError, "the card says 6 episodes / 71 steps"),
        (lambda f: _edit_card(f, episodes=5), DatasetError, "the card says 5 episodes"),
        (
            lambda f: (f.parent / "part-00001.parquet").write_bytes(f.read_bytes()),
            DatasetError,
            "part-00001.parquet: data file not listed",
        ),
        (lambda f: (f.parent / CARD_FILE).write_text("{"), DatasetError, "not valid JSON"),
    ],
    ids=[
        "missing-file",
        "missing-card",
        "truncated",
        "missing-column",
        "steps",
        "episodes",
        "unlisted-file",
        "bad-card",
    ],  # fmt: skip
)
def test_damaged_datasets_fail_with_one_clear_error(dataset_dir, tmp_path, damage, error, message):
    path, part = _copy(dataset_dir, tmp_path)
    damage(part)
    with pytest.raises(error, match=message) as raised:
        read_dataset(path)
    assert isinstance(raised.value, ValueError) and "\n" not in str(raised.value)


def test_missing_dataset_directory_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such dataset directory"):
        read_dataset(tmp_path / "nowhere")


def test_collect_from_a_checkpoint_with_noise(ray_local, tmp_path):
    from rllib_dynamite.config import make_config

    config = make_config(GRIDNAVI, "oracle", num_env_runners=0, num_envs_per_env_runner=2,
                         env_config=SHORT, seed=0)  # fmt: skip
    algo = config.build_algo()
    algo.train()
    checkpoint = algo.save_to_path(str(tmp_path / "checkpoint"))
    algo.stop()
    card = collect(tmp_path / "d", policy=checkpoint, num_episodes=3, epsilon=0.5, seed=1)
    assert card.behaviour_policy == {"kind": "checkpoint", "checkpoint": checkpoint,
                                     "epsilon": 0.5}  # fmt: skip
    # The oracle saw the goal; the dataset keeps the env's own observation only.
    assert card.env_config == SHORT and card.observation_dim == 2
    dataset = read_dataset(tmp_path / "d")
    assert [len(e) for e in dataset.episodes] == [12, 12, 12] and dataset.has_session_labels


def test_collect_refuses_to_overwrite_and_checks_arguments(dataset_dir):
    with pytest.raises(DatasetError, match="already holds a dataset"):
        collect(dataset_dir, policy="random", num_episodes=1, env=GRIDNAVI)
    with pytest.raises(ValueError, match="--epsilon"):
        collect(dataset_dir / "x", policy="random", num_episodes=1, env=GRIDNAVI, epsilon=2.0)


def test_epsilon_random_actions():
    space = gym.spaces.Discrete(5)
    batch = {"actions": [np.int64(0)] * 200}
    EpsilonRandomActions(None, space, epsilon=0.0)(rl_module=None, batch=batch, episodes=[])
    assert all(a == 0 for a in batch["actions"])
    EpsilonRandomActions(None, space, epsilon=1.0, seed=0)(rl_module=None, batch=batch, episodes=[])
    assert set(np.asarray(batch["actions"]).tolist()) == set(range(5))


# -- belief model and relabelling --------------------------------------------------------
@pytest.fixture(scope="module")
def belief_setup(dataset_dir):
    plan = plan_offline(dataset_dir, "dynamite", overrides={"vae_batch_episodes": 4})
    plain = gym.spaces.Box(-np.inf, np.inf, (plan.obs_dim,), np.float32)
    module = build_belief_module(plan.online_config, plain, plan.action_space)
    return plan, module, episode_tensors(plan.dataset.episodes, plan.action_space)


def test_encoder_inputs_are_previous_action_and_reward(belief_setup):
    plan, _, tensors = belief_setup
    episode = plan.dataset.episodes[0]
    obs = tensors.obs[0].numpy()
    np.testing.assert_array_equal(obs[:, :2], episode.obs)
    assert np.all(obs[0, 2:] == 0)  # no a_{-1}, r_0
    np.testing.assert_array_equal(obs[1:, 2:7].argmax(-1), episode.actions)
    np.testing.assert_array_equal(obs[1:, -1], episode.rewards)
    np.testing.assert_array_equal(tensors.session_ids[0].numpy(), episode.session_ids)


@pytest.mark.parametrize("label_free", [False, True], ids=["labels", "label-free"])
def test_belief_training_and_relabelling(belief_setup, label_free):
    plan, module, tensors = belief_setup
    terms = train_belief_model(module, tensors, plan.settings, steps=3, label_free=label_free)
    assert np.isfinite(terms["total"]) and "termination_loss" in terms
    assert ("termination_true_f1" in terms) == label_free
    features = relabel(module, tensors)
    assert features.shape == (6, 13, 2 * plan.settings.latent_dim)
    pseudo = surprise_session_ids(module, plan.settings, tensors.obs, tensors.valid, 2.0)
    assert pseudo.shape == tensors.session_ids.shape and torch.all(pseudo[:, 0] == 0)


def test_returns_to_go():
    np.testing.assert_allclose(returns_to_go(np.array([1.0, 0.0, 2.0]), 0.5), [1.5, 1.0, 2.0])


def test_plan_checks_before_ray(dataset_dir, tmp_path):
    from rllib_dynamite.config import ConfigError

    with pytest.raises(ConfigError, match="unknown offline preset"):
        plan_offline(dataset_dir, "rl2")
    with pytest.raises(ConfigError, match="env_config comes from the dataset card"):
        plan_offline(dataset_dir, "dynamite", overrides={"env_config": {"p": 0.5}})
    with pytest.raises(ConfigError, match="needs continuous actions"):
        plan_offline(dataset_dir, "dynamite", offline=offline_settings(algorithm="cql"))
    episodes = random_episodes(GRIDNAVI, SHORT, 1, seed=0)
    for episode in episodes:
        episode.session_ids = episode.session_ends = episode.latents = None
    write_dataset(tmp_path / "unlabelled", episodes, env=GRIDNAVI, env_config=SHORT,
                  behaviour_policy={}, action_space={"type": "discrete", "n": 5})  # fmt: skip
    with pytest.raises(DatasetError, match="no session labels; train with --no-session-labels"):
        plan_offline(tmp_path / "unlabelled", "dynamite")
    plan_offline(
        tmp_path / "unlabelled", "dynamite", offline=offline_settings(no_session_labels=True)
    )
    with pytest.raises(DatasetNotFoundError):
        OFFLINE_COMMANDS["offline"](_parse("offline", "--data", str(tmp_path / "nowhere")))


# -- the whole pipeline --------------------------------------------------------------------
def test_offline_pipeline_end_to_end(ray_local, dataset_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --output, as users type it
    args = _parse(
        "offline", "--data", str(dataset_dir), "--preset", "dynamite", "--output", "run",
        "--belief-steps", "4", "--rl-iterations", "3", "--eval-episodes", "2",
        "--set", "vae_batch_episodes=4",
    )  # fmt: skip
    assert OFFLINE_COMMANDS["offline"](args) == 0
    output = tmp_path / "run"
    evaluation = json.loads((output / "evaluation.json").read_text())
    metrics = evaluation["metrics"]
    assert metrics["episodes"] == 2 and np.isfinite(metrics["episode_return_mean"])
    assert "termination_f1" in metrics and "belief_readout_r2" in metrics
    run = json.loads((output / "run.json").read_text())
    assert (run["preset"], run["algorithm"]) == ("dynamite", "marwil")
    relabelled = pq.read_table(output / "relabelled" / "part-00000.parquet")
    assert "value_targets" in relabelled.column_names and "latent" not in relabelled.column_names
    assert len(relabelled.column("obs")[0]) == 2 + 2 * run["settings"]["latent_dim"]
    assert (output / "belief_model").is_dir() and (output / "policy").is_dir()
    assert any((output / "tensorboard").iterdir())


def test_offline_pipeline_with_continuous_actions_and_cql(ray_local, tmp_path):
    from rllib_dynamite.offline.pipeline import run_offline

    reacher = "rllib_dynamite/Reacher-v0"
    collect(tmp_path / "d", policy="random", num_episodes=2, env=reacher, env_config={"H": 8})
    offline = offline_settings(algorithm="cql", belief_steps=1, rl_iterations=1,
                               eval_episodes=1, rl_batch_size=16)  # fmt: skip
    plan = plan_offline(tmp_path / "d", "varibad", overrides={"vae_batch_episodes": 2},
                        offline=offline)  # fmt: skip
    result = run_offline(plan, tmp_path / "run", log=lambda line: None)
    assert result.algorithm == "cql" and np.isfinite(result.metrics["episode_return_mean"])
