"""What the policy acts on is what it learns on: the EnvRunner's action log-probabilities
equal the Learner module's on the same episodes, belief recomputed from the episode start
(docs/results.md, "Beliefs that act")."""

import numpy as np
import pytest
import torch

from rllib_dynamite import make_config


@pytest.mark.parametrize("preset", ["dynamite", "rl2"])
def test_env_runner_and_learner_agree_on_action_log_probabilities(ray_local, preset):
    algo = make_config(
        "rllib_dynamite.suite:SetPointTracker",
        preset,
        num_env_runners=0,
        num_envs_per_env_runner=2,
        seed=0,
        env_config={"H": 20},
    ).build_algo()
    try:
        for _ in range(2):  # belief model and policy both updated, weights synced
            algo.train()
        module = algo.learner_group._learner.module["default_policy"].unwrapped()
        episodes = algo.env_runner.sample(num_episodes=2, random_actions=False)
        for episode in episodes:
            obs = torch.as_tensor(np.asarray(episode.get_observations()))[None]
            actions = torch.as_tensor(np.asarray(episode.get_actions()))
            taken = np.asarray(episode.get_extra_model_outputs("action_logp")).reshape(-1)
            with torch.no_grad():
                encoded = module.encode(obs, torch.zeros(1, module.gru_hidden_dim), False)
                context = encoded.hidden if module.policy_input == "hidden" else encoded.belief
                inputs = module._action_dist_inputs(module._rl_input(obs, context))[0, :-1]
            logp = module.get_train_action_dist_cls().from_logits(inputs).logp(actions)
            np.testing.assert_allclose(logp.numpy(), taken, atol=1e-4)
    finally:
        algo.stop()
