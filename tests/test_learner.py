"""DynamiteLearner on real Ray at small scale: gradients, losses, presets, checkpoints."""

from pathlib import Path

import numpy as np
import pytest
import torch
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.training_data import TrainingData

import rllib_dynamite  # noqa: F401
from rllib_dynamite.config import PRESETS, make_config
from rllib_dynamite.connectors import BELIEF
from rllib_dynamite.evaluation import Evaluator
from rllib_dynamite.learner import vae_loss

GRID = "rllib_dynamite/GridNavi-v0"
CHEETAH = "rllib_dynamite/HalfCheetahVel-v0"
SMALL = dict(num_env_runners=0, num_envs_per_env_runner=2, seed=0)


@pytest.fixture
def grid_algo(ray_local):
    algo = make_config(GRID, "dynamite", **SMALL).build_algo()
    yield algo
    algo.stop()


def _train_batch(algo):
    learner = algo.learner_group._learner
    episodes = algo.env_runner.sample()
    batch = learner._make_batch_if_necessary(TrainingData(episodes=episodes))
    return learner, batch.policy_batches["default_policy"]


@pytest.mark.parametrize("cached_belief", [True, False])
def test_detached_belief_keeps_ppo_gradients_out_of_the_encoder(grid_algo, cached_belief):
    learner, batch = _train_batch(grid_algo)
    assert BELIEF in batch  # AddBeliefToBatch ran
    if not cached_belief:  # the module's own encoder pass, detached
        batch = {k: v for k, v in batch.items() if k != BELIEF}
    module = learner.module["default_policy"].unwrapped()
    module.zero_grad(set_to_none=True)
    fwd_out = module.forward_train(batch)
    ppo_loss = learner.compute_loss_for_module(
        module_id="default_policy",
        config=learner.config,
        batch=batch,
        fwd_out=fwd_out,
    )
    ppo_loss.backward()
    encoder_grads = [p.grad for p in module.encoder.parameters()]
    assert all(g is None or torch.count_nonzero(g) == 0 for g in encoder_grads)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.pi.parameters())


@pytest.mark.parametrize("preset", ["dynamite", "rl2"])
def test_learner_reproduces_the_env_runners_log_probabilities(ray_local, preset):
    """The EnvRunner samples one step at a time (no time axis, state from the episode);
    the learner reruns whole episodes, ``dynamite`` from the belief precomputed once per
    batch. Both must give the same policy, so the same log-probability of each action."""
    algo = make_config(GRID, preset, **SMALL).build_algo()
    try:
        learner, batch = _train_batch(algo)
        module = learner.module["default_policy"].unwrapped()
        assert (BELIEF in batch) == (preset == "dynamite")
        with torch.no_grad():
            out = module.forward_train(batch)
            values_cached = module.compute_values(batch)
            values_encoded = module.compute_values({k: v for k, v in batch.items() if k != BELIEF})
        dist = module.get_train_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
        mask = batch[Columns.LOSS_MASK].bool()
        torch.testing.assert_close(
            dist.logp(batch[Columns.ACTIONS])[mask], batch[Columns.ACTION_LOGP][mask]
        )
        torch.testing.assert_close(values_cached, values_encoded)
    finally:
        algo.stop()


def test_vf_explained_var_counts_every_valid_step(grid_algo):
    """RLlib's metric reads only the first column of a [B, T] batch; the learner logs the
    explained variance over every valid step of every episode."""
    from ray.rllib.evaluation.postprocessing import Postprocessing
    from ray.rllib.utils.torch_utils import explained_variance

    learner, batch = _train_batch(grid_algo)
    module = learner.module["default_policy"].unwrapped()
    with torch.no_grad():
        fwd_out = module.forward_train(batch)
        learner.compute_loss_for_module(
            module_id="default_policy", config=learner.config, batch=batch, fwd_out=fwd_out
        )
        values = module.compute_values(batch, embeddings=fwd_out[Columns.EMBEDDINGS])
    mask = batch[Columns.LOSS_MASK].bool()
    targets = batch[Postprocessing.VALUE_TARGETS]
    assert targets.dim() == 2 and mask[:, 1:].any()
    expected = explained_variance(targets[mask], values[mask]).item()
    logged = learner.metrics.peek(("default_policy", "vf_explained_var"))
    assert logged == pytest.approx(expected, abs=1e-6)
    first_step_only = explained_variance(targets, values).item()
    assert first_step_only != pytest.approx(expected, abs=1e-3)


def test_vae_loss_terms_and_switches(grid_algo):
    learner, batch = _train_batch(grid_algo)
    module = learner.module["default_policy"].unwrapped()
    settings = learner.config.dynamite_settings
    obs = batch[Columns.OBS]
    session_ids = batch["session_id"][:, :-1]
    valid = batch[Columns.LOSS_MASK][:, :-1].bool()
    terms = vae_loss(module, obs, session_ids, valid, settings, termination_pos_weight=5.0)
    for name in ("reconstruction_loss", "kl_loss", "consistency_loss", "termination_loss"):
        assert torch.isfinite(terms[name]), name
    terms["total"].backward()
    assert module.encoder.gru.weight_hh_l0.grad.abs().sum() > 0
    assert module.latent_prior.net[0].weight.grad.abs().sum() > 0

    varibad = make_config(GRID, "varibad", **SMALL).dynamite_settings
    terms = vae_loss(module, obs, session_ids, valid, varibad, termination_pos_weight=5.0)
    assert "consistency_loss" not in terms and "termination_loss" not in terms


def test_training_logs_every_vae_term(grid_algo):
    result = grid_algo.train()
    learner_results = result["learners"]["default_policy"]
    for word in ("reconstruction", "kl", "consistency", "termination"):
        assert any(word in key for key in learner_results), word
    assert any("f1" in key for key in learner_results)
    assert "policy_loss" in learner_results


def test_policy_waits_for_the_belief_model_during_warm_up(ray_local):
    def params(part):
        return [p.detach().clone() for p in part.parameters()]

    def moved(before, part):
        return any(not torch.equal(a, b) for a, b in zip(before, part.parameters(), strict=True))

    # One GridNavi iteration of SMALL samples 2 episodes; warm up for the first one.
    steps = 2 * rllib_dynamite.envs.make(GRID).unwrapped.H
    algo = make_config(GRID, "dynamite", belief_warmup_steps=steps + 1, **SMALL).build_algo()
    try:
        module = algo.learner_group._learner.module["default_policy"].unwrapped()
        pi, vf, encoder = params(module.pi), params(module.vf), params(module.encoder)
        result = algo.train()["learners"]["default_policy"]
        assert result["policy_warming_up"] == 1.0
        assert not moved(pi, module.pi) and not moved(vf, module.vf)
        assert moved(encoder, module.encoder)  # the belief model trains meanwhile
        assert float(module.belief_normalizer.count) < 1  # nor is the normaliser fed
        result = algo.train()["learners"]["default_policy"]
        assert result["policy_warming_up"] == 0.0
        assert moved(pi, module.pi) and moved(vf, module.vf)
    finally:
        algo.stop()


def _greedy_actions(algo, steps=30):
    """Greedy actions of the algorithm's module along a fixed GridNavi rollout."""
    module = algo.get_module()
    env = rllib_dynamite.envs.make(GRID)
    obs, _ = env.reset(seed=3)
    state = {"h": torch.zeros(1, module.gru_hidden_dim)}
    prev_action, prev_reward, actions = 0, 0.0, []
    for _ in range(steps):
        features = np.concatenate([obs, np.eye(5)[prev_action] * (len(actions) > 0), [prev_reward]])
        batch = {
            Columns.OBS: torch.as_tensor(features, dtype=torch.float32)[None, None],
            Columns.STATE_IN: state,
        }
        out = module.forward_inference(batch)
        prev_action = int(out[Columns.ACTION_DIST_INPUTS][0, 0].argmax())
        state = out[Columns.STATE_OUT]
        actions.append(prev_action)
        obs, prev_reward, *_ = env.step(prev_action)
    return actions


def test_checkpoint_round_trip_gives_identical_greedy_actions(grid_algo, tmp_path: Path):
    grid_algo.train()
    before = _greedy_actions(grid_algo)
    path = grid_algo.save_to_path(tmp_path / "checkpoint")
    restored = Algorithm.from_checkpoint(path)
    try:
        assert _greedy_actions(restored) == before
        assert restored.config.dynamite_settings == grid_algo.config.dynamite_settings
    finally:
        restored.stop()


def test_env_runners_hold_and_receive_only_what_acting_needs(grid_algo, tmp_path: Path):
    """The EnvRunner's module has no critic, decoders, prior or termination head, and
    the weight sync carries exactly its part; training, then an Evaluator restored from
    the checkpoint (the Learner's full module) with its belief picture, still work."""
    learner_module = grid_algo.learner_group._learner.module["default_policy"].unwrapped()
    runner_state = grid_algo.env_runner.module.get_state()
    training_only = ("vf.", "reward_decoder.", "latent_prior.", "encoder.termination_head.")
    assert not [name for name in runner_state if name.startswith(training_only)]
    assert all(any(n.startswith(p) for n in learner_module.state_dict()) for p in training_only)
    grid_algo.train()
    synced = grid_algo.learner_group.get_state(components="learner/rl_module", inference_only=True)[
        "learner"
    ]["rl_module"]["default_policy"]
    runner_state = grid_algo.env_runner.module.get_state()
    assert set(synced) == set(runner_state)
    for name, value in synced.items():
        np.testing.assert_array_equal(runner_state[name], value, err_msg=name)

    evaluator = Evaluator.from_checkpoint(grid_algo.save_to_path(tmp_path / "checkpoint"), seed=0)
    try:
        report = evaluator.evaluate(2)
    finally:
        evaluator.stop()
    assert report.figure is not None  # GridNavi's picture: the reward decoder's belief
    assert np.isfinite(report.metrics["termination_f1"])
    restored = evaluator.module.state_dict()
    for name, value in learner_module.state_dict().items():
        torch.testing.assert_close(restored[name], value, msg=name)


@pytest.mark.parametrize("env", [GRID, CHEETAH])
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_trains_one_iteration(ray_local, env, preset):
    algo = make_config(env, preset, **SMALL).build_algo()
    try:
        result = algo.train()
        assert result["env_runners"]["num_episodes"] >= 2
        assert np.isfinite(result["env_runners"]["episode_return_mean"])
    finally:
        algo.stop()


@pytest.mark.parametrize("preset", ["oracle", "dynamite"])
def test_observation_normaliser_learns_and_reaches_the_env_runner(ray_local, preset):
    """With ``normalize_observations`` (Reacher's default) the learner folds the sampled
    states into the normaliser, and the EnvRunner acts with the same statistics."""
    reacher = "rllib_dynamite/Reacher-v0"
    algo = make_config(reacher, preset, **SMALL).build_algo()
    try:
        algo.train()
        learner = algo.learner_group._learner.module[DEFAULT_MODULE_ID].unwrapped()
        runner = algo.env_runner.module.unwrapped()
        assert learner.obs_normalizer.count > 1  # statistics from real samples
        assert not torch.allclose(
            learner.obs_normalizer.var, torch.ones_like(learner.obs_normalizer.var)
        )
        torch.testing.assert_close(runner.obs_normalizer.mean, learner.obs_normalizer.mean)
        torch.testing.assert_close(runner.obs_normalizer.var, learner.obs_normalizer.var)
    finally:
        algo.stop()
