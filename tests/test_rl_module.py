"""DynamiteRLModule: outputs and state shapes, for a discrete and a continuous env."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns

import rllib_dynamite  # noqa: F401
from rllib_dynamite.connectors import PrevActionRewardObservation
from rllib_dynamite.rl_module import (
    BELIEF_MEAN,
    POLICY_INPUTS,
    TERMINATION_LOGIT,
    DynamiteRLModule,
)

GRU = 16
LATENT = 3


def _module(obs_dim, action_space, inference_only=False, **model_config):
    raw = gym.spaces.Box(-1.0, 1.0, (obs_dim,), np.float32)
    augmented = PrevActionRewardObservation().recompute_output_observation_space(raw, action_space)
    config = {"gru_hidden_dim": GRU, "latent_dim": LATENT, "max_seq_len": 11, **model_config}
    return DynamiteRLModule(
        observation_space=augmented,
        action_space=action_space,
        inference_only=inference_only,
        model_config=config,
    )


SPACES = {
    "discrete": (2, gym.spaces.Discrete(5)),
    "continuous": (17, gym.spaces.Box(-1.0, 1.0, (6,), np.float32)),
}


@pytest.mark.parametrize("kind", list(SPACES))
def test_forward_outputs_and_state_shapes(kind):
    obs_dim, action_space = SPACES[kind]
    module = _module(obs_dim, action_space)
    B, T = 4, 7
    feature_dim = module.observation_space.shape[0]
    state = module.get_initial_state()
    assert state["h"].shape == (GRU,)
    batch = {
        Columns.OBS: torch.randn(B, T, feature_dim),
        Columns.STATE_IN: {"h": torch.zeros(B, GRU)},
    }
    action_dim = action_space.n if kind == "discrete" else 2 * action_space.shape[0]
    for forward in (module.forward_inference, module.forward_exploration):
        out = forward(batch)
        assert out[Columns.ACTION_DIST_INPUTS].shape == (B, T, action_dim)
        assert out[Columns.STATE_OUT]["h"].shape == (B, GRU)
        assert BELIEF_MEAN not in out  # EnvRunners keep no belief in their episodes
    train = module.forward_train(batch)
    assert train[BELIEF_MEAN].shape == (B, T, LATENT)
    assert train[TERMINATION_LOGIT].shape == (B, T)
    assert module.compute_values(batch).shape == (B, T)
    dist = module.get_train_action_dist_cls().from_logits(train[Columns.ACTION_DIST_INPUTS])
    assert dist.sample().shape[:2] == (B, T)


def test_state_carries_over_time():
    """Running T steps at once (nn.GRU) equals running them one at a time (the GRU cell
    alone) with the state passed on."""
    module = _module(*SPACES["continuous"])
    obs = torch.randn(2, 5, module.observation_space.shape[0])
    full = module.forward_train({Columns.OBS: obs, Columns.STATE_IN: {"h": torch.zeros(2, GRU)}})
    state = torch.zeros(2, GRU)
    for t in range(5):
        step = module.forward_inference(
            {Columns.OBS: obs[:, t : t + 1], Columns.STATE_IN: {"h": state}}
        )
        torch.testing.assert_close(
            step[Columns.ACTION_DIST_INPUTS][:, 0], full[Columns.ACTION_DIST_INPUTS][:, t]
        )
        state = step[Columns.STATE_OUT]["h"]
    torch.testing.assert_close(state, full[Columns.STATE_OUT]["h"])


def test_one_step_without_a_time_axis():
    """EnvRunners pass ``[B, D]`` observations (AddStepStateToBatch); the output equals
    that of the same step with a time axis of one."""
    module = _module(*SPACES["discrete"])
    obs = torch.randn(3, 1, module.observation_space.shape[0])
    state = {"h": torch.randn(3, GRU)}
    timed = module.forward_exploration({Columns.OBS: obs, Columns.STATE_IN: state})
    untimed = module.forward_exploration({Columns.OBS: obs[:, 0], Columns.STATE_IN: state})
    assert untimed[Columns.ACTION_DIST_INPUTS].shape == (3, 5)
    torch.testing.assert_close(
        untimed[Columns.ACTION_DIST_INPUTS], timed[Columns.ACTION_DIST_INPUTS][:, 0]
    )
    torch.testing.assert_close(untimed[Columns.STATE_OUT]["h"], timed[Columns.STATE_OUT]["h"])


def test_rl2_policy_reads_the_gru_state_with_gradients():
    module = _module(*SPACES["discrete"], policy_input="hidden", detach_belief=False)
    obs = torch.randn(2, 4, module.observation_space.shape[0])
    out = module.forward_train({Columns.OBS: obs, Columns.STATE_IN: {"h": torch.zeros(2, GRU)}})
    out[Columns.ACTION_DIST_INPUTS].sum().backward()
    assert module.encoder.gru.weight_hh_l0.grad.abs().sum() > 0


def test_unknown_policy_input_is_rejected():
    with pytest.raises(ValueError, match="policy_input"):
        _module(*SPACES["discrete"], policy_input="pixels")


TRAINING_ONLY = (
    "vf.",
    "reward_decoder.",
    "state_decoder.",
    "latent_prior.",
    "encoder.termination_head.",
)


@pytest.mark.parametrize("policy_input", POLICY_INPUTS)
@pytest.mark.parametrize("kind", list(SPACES))
def test_inference_only_module_acts_like_the_full_one(kind, policy_input):
    """An EnvRunner's module (inference-only) has no critic, decoders, prior or
    termination head; it loads the Learner's inference-only state (what a weight sync
    carries) exactly and then acts as the full module does."""
    space = SPACES[kind]
    parts = dict(policy_input=policy_input, state_decoder=True, termination_head=True)
    full, inference = _module(*space, **parts), _module(*space, inference_only=True, **parts)
    names = set(inference.state_dict())
    assert not [name for name in names if name.startswith(TRAINING_ONLY)]
    assert {"encoder.gru.weight_hh_l0", "pi_head.weight"} <= names
    assert ("belief_normalizer.mean" in names) == (policy_input == "belief")
    assert all(any(n.startswith(p) for n in full.state_dict()) for p in TRAINING_ONLY)

    synced = full.get_state(inference_only=True)
    assert set(synced) == names
    assert sum(map(np.size, synced.values())) < sum(map(np.size, full.get_state().values()))
    inference.set_state(synced)
    batch = {
        Columns.OBS: torch.randn(3, 4, full.observation_space.shape[0]),
        Columns.STATE_IN: {"h": torch.randn(3, GRU)},
    }
    expected, out = full.forward_exploration(batch), inference.forward_exploration(batch)
    torch.testing.assert_close(
        out[Columns.ACTION_DIST_INPUTS], expected[Columns.ACTION_DIST_INPUTS]
    )
    torch.testing.assert_close(out[Columns.STATE_OUT]["h"], expected[Columns.STATE_OUT]["h"])
    with pytest.raises(ValueError, match="no termination head"):
        inference.encode(batch[Columns.OBS], batch[Columns.STATE_IN]["h"])


def test_belief_normaliser_window_follows_a_drifting_belief():
    from rllib_dynamite.models.mlp import RunningNormalizer

    generator = torch.Generator().manual_seed(0)
    early = 10.0 * torch.randn(5_000, 2, generator=generator)  # a wide early belief
    late = 3.0 + 0.1 * torch.randn(5_000, 2, generator=generator)  # a narrow later one
    remembering, forgetting = RunningNormalizer(2), RunningNormalizer(2, window=250)
    for normaliser in (remembering, forgetting):
        for batch in torch.cat([early, late]).split(250):
            normaliser.update(batch)
    # The cumulative statistics keep the early spread: the late belief looks constant.
    assert remembering.var.min() > 10.0
    assert remembering(late).std(0).max() < 0.05
    # A window of 250 samples tracks the late belief: unit spread, centred.
    assert torch.allclose(forgetting.mean, torch.full((2,), 3.0), atol=0.05)
    assert torch.allclose(forgetting(late).std(0), torch.ones(2), atol=0.2)
    assert forgetting.count.item() == 250


def test_initial_action_std_is_the_same_for_every_preset():
    from rllib_dynamite.config import DynamiteSettings, memoryless_module_spec

    action_space = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    obs = torch.zeros(4, 17)
    dynamite = _module(17, action_space, initial_action_std=0.2)
    spec = memoryless_module_spec(DynamiteSettings(initial_action_std=0.2), action_space)
    spec.observation_space = gym.spaces.Box(-1.0, 1.0, (17,), np.float32)
    spec.action_space = action_space
    memoryless = spec.build()
    batch = {Columns.OBS: obs}
    inputs = memoryless.forward_inference(batch)[Columns.ACTION_DIST_INPUTS]
    # A Gaussian's inputs are [mean, log std]; both modules start at std 0.2.
    np.testing.assert_allclose(inputs[:, 6:].exp().detach().numpy(), 0.2, rtol=1e-6)
    np.testing.assert_allclose(dynamite.log_std.exp().detach().numpy(), 0.2, rtol=1e-6)
    # ... and the memoryless module's std is one learnable parameter, not a network output.
    assert [n for n, _ in memoryless.named_parameters() if "log_std" in n] == ["pi.log_std"]
    # On a discrete action space there is no std to set.
    discrete = memoryless_module_spec(DynamiteSettings(), gym.spaces.Discrete(5))
    assert discrete.model_config["free_log_std"] is False


@pytest.mark.parametrize("kind", list(SPACES))
def test_policy_output_gain_starts_every_preset_near_input_independent_actions(kind):
    """At gain 0.01 the first policy's action inputs hardly move with its input (the
    belief code changes under a policy that would otherwise follow it); gain 0 keeps
    torch's initialisation."""
    from rllib_dynamite.config import DynamiteSettings, memoryless_module_spec

    obs_dim, action_space = SPACES[kind]
    action_dim = action_space.n if kind == "discrete" else action_space.shape[0]
    for gain in (0.0, 0.01):
        torch.manual_seed(0)
        dynamite = _module(obs_dim, action_space, policy_output_gain=gain)
        spec = memoryless_module_spec(DynamiteSettings(policy_output_gain=gain), action_space)
        spec.observation_space = gym.spaces.Box(-1.0, 1.0, (obs_dim,), np.float32)
        spec.action_space = action_space
        memoryless = spec.build()
        inputs = memoryless.forward_inference({Columns.OBS: torch.randn(64, obs_dim) * 3})
        spread = inputs[Columns.ACTION_DIST_INPUTS][:, :action_dim].std(0).max().item()
        head = [m for m in memoryless.pi.modules() if isinstance(m, torch.nn.Linear)][-1]
        if gain:
            # orthogonal rows of norm 0.01, zero bias, in both modules
            for layer in (dynamite.pi_head, head):
                norms = layer.weight.detach().norm(dim=1)
                np.testing.assert_allclose(norms.numpy(), 0.01, rtol=1e-4)
                assert not layer.bias.detach().any()
            assert spread < 0.02
        else:
            assert dynamite.pi_head.weight.detach().norm(dim=1).min() > 0.1
            assert spread > 0.05


def test_belief_reward_clip_and_scale_reach_the_encoder_and_the_decoder_target():
    from rllib_dynamite.config import DynamiteSettings, _module_model_config
    from rllib_dynamite.learner import transition_nll

    action_space = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    plain = _module(17, action_space)
    model_config = _module_model_config(
        DynamiteSettings(belief_reward_clip=0.5, belief_reward_scale=10.0), 11
    )
    scaled = _module(
        17, action_space, **{**model_config, "gru_hidden_dim": GRU, "latent_dim": LATENT}
    )
    scaled.load_state_dict(plain.state_dict())
    obs = torch.randn(2, 5, plain.observation_space.shape[0])
    obs[..., -1] = torch.tensor([-0.2, 0.03, 5.0, -3.0, 0.0])  # a +5 scratch, a -3 force spike
    _, _, reward = scaled.split_observation(obs)
    np.testing.assert_allclose(reward[0, :, 0].numpy(), [-2.0, 0.3, 5.0, -5.0, 0.0], rtol=1e-6)
    # The encoder reads the transformed reward: the same as the plain module on it.
    transformed = obs.clone()
    transformed[..., -1] = reward[..., 0]
    h0 = torch.zeros(2, GRU)
    torch.testing.assert_close(scaled.encode(obs, h0).belief, plain.encode(transformed, h0).belief)
    # ... and the decoder fits it.
    latent = torch.zeros(2, 3, LATENT)
    settings = DynamiteSettings()
    torch.testing.assert_close(
        transition_nll(scaled, settings, latent, obs),
        transition_nll(plain, settings, latent, transformed),
    )


def test_normalize_observations_scales_the_policy_input_in_both_module_kinds():
    """With ``normalize_observations`` a feature on the scale of centimetres reaches the
    policy and critic at unit scale; the belief model still reads the raw state."""
    from rllib_dynamite.config import DynamiteSettings, memoryless_module_spec

    action_space = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    torch.manual_seed(0)
    states = 0.01 * torch.randn(64, 17) + 0.1  # e.g. a fingertip's position in m

    dynamite = _module(17, action_space, normalize_observations=True)
    obs = torch.cat([states, torch.zeros(64, 7)], dim=-1).unsqueeze(1)
    dynamite.obs_normalizer.update(states)
    rl_input = dynamite._rl_input(obs, torch.zeros(64, 1, 2 * LATENT))
    normalised = rl_input[..., :17].reshape(-1, 17)
    torch.testing.assert_close(normalised.mean(0), torch.zeros(17), atol=1e-4, rtol=0)
    torch.testing.assert_close(normalised.std(0), torch.ones(17), atol=0.02, rtol=0)
    assert "obs_normalizer.mean" in dynamite.state_dict()  # synced and checkpointed

    spec = memoryless_module_spec(DynamiteSettings(normalize_observations=True), action_space)
    spec.observation_space = gym.spaces.Box(-1.0, 1.0, (17,), np.float32)
    spec.action_space = action_space
    memoryless = spec.build()
    before = memoryless.forward_inference({Columns.OBS: states})[Columns.ACTION_DIST_INPUTS]
    # A training pass reads with the current statistics, then folds its batch in.
    trained = memoryless.forward_train({Columns.OBS: states})[Columns.ACTION_DIST_INPUTS]
    torch.testing.assert_close(trained, before)
    torch.testing.assert_close(memoryless.obs_normalizer.mean, states.mean(0), atol=1e-4, rtol=0)
    after = memoryless.forward_inference({Columns.OBS: states})[Columns.ACTION_DIST_INPUTS]
    assert not torch.allclose(after, before)
    values = memoryless.compute_values({Columns.OBS: states})
    expected = memoryless.vf(memoryless.encoder.critic_encoder(
        {Columns.OBS: memoryless.obs_normalizer(states)})["encoder_out"]).squeeze(-1)  # fmt: skip
    torch.testing.assert_close(values, expected)


def test_true_latent_probe_puts_the_latent_in_the_belief_slot():
    # s_t = [x, y, latent_0, latent_1] (an oracle env); the policy reads [x, y] and the
    # latent where the belief would be, padded to 2D and through the belief normaliser.
    module = _module(4, gym.spaces.Discrete(3), policy_belief="true_latent", true_latent_size=2)
    obs = torch.randn(2, 5, module.observation_space.shape[0])
    belief = torch.randn(2, 5, 2 * LATENT)
    rl_input = module._rl_input(obs, belief)
    assert rl_input.shape == (2, 5, 2 + 2 * LATENT)
    torch.testing.assert_close(rl_input[..., :2], obs[..., :2])
    torch.testing.assert_close(rl_input[..., 2:4], obs[..., 2:4].clamp(-5, 5), atol=1e-3, rtol=0)
    assert torch.all(rl_input[..., 4:] == 0)


@pytest.mark.parametrize("policy_belief", ["mean", "sample"])
def test_policy_can_read_the_belief_mean_or_a_sample(policy_belief):
    module = _module(2, gym.spaces.Discrete(3), policy_belief=policy_belief)
    mean, logvar = torch.randn(4, LATENT), torch.full((4, LATENT), -20.0)
    read = module.policy_belief_input(None, torch.cat([mean, logvar], -1))
    assert read.shape == (4, LATENT)
    torch.testing.assert_close(read, mean, atol=1e-3, rtol=0)
    assert module.pi[0].in_features == 2 + LATENT


def test_unknown_policy_belief_is_rejected():
    with pytest.raises(ValueError, match="policy_belief"):
        _module(2, gym.spaces.Discrete(3), policy_belief="median")
