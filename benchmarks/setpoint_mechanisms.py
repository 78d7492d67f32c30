"""The two mechanisms that kept belief presets at the memoryless return on the development
suite's set-point tracker (docs/results.md, "Beliefs that act"), measured directly.

``drift``: trains ``dynamite`` on ``rllib_dynamite.suite:SetPointTracker`` and, every
fifth iteration, plays the policy on 64 fixed episodes of random actions: the mean
|policy mean action| (above 1 is outside the action range) and its correlation with the
side of the set-point, beside the training return. Mechanism 1 (the policy follows the
moving belief code to a wall) shows at ``policy_output_gain=0`` and not at 0.01.

``termination``: trains the belief model of a ``dynamite`` module on its own, apart from
PPO, on set-point episodes under a proportional hold-the-centre policy with Gaussian
action noise, with the full belief-model loss (or the termination loss alone), and
prints the head's precision, recall and F1 on 200 fresh episodes every 250 updates.
Mechanism 2: the head can learn the switch from such data, given enough updates.

``buffer``: trains ``dynamite`` for some iterations and reads its learner's episode
buffer: how plainly a switch shows in the data (| |Δr| − |Δx| | at a session's first
step and elsewhere) and the learner's termination metrics.

    .venv/bin/python benchmarks/setpoint_mechanisms.py drift --seed 0 --iterations 60 --gain 0.01
    .venv/bin/python benchmarks/setpoint_mechanisms.py termination --noise 1.0 --updates 1000
    .venv/bin/python benchmarks/setpoint_mechanisms.py buffer --iterations 61
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import ray
import torch

from rllib_dynamite import losses
from rllib_dynamite.config import make_config
from rllib_dynamite.learner import vae_loss
from rllib_dynamite.suite import SetPointTracker

ENV = "rllib_dynamite.suite:SetPointTracker"


def _algo(seed: int, **settings: object):
    algo = make_config(ENV, "dynamite", num_env_runners=0, seed=seed, **settings).build_algo()
    learner = algo.learner_group._learner
    return algo, learner, learner.module["default_policy"].unwrapped()


def _episodes(count: int, action, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """``count`` episodes as the belief model reads them: rows ``[x_t, a_{t-1}, r_t]``,
    session ids of each transition, all valid; and the side of the set-point at each
    step. ``action(x, rng)`` picks the action."""
    env = SetPointTracker()
    rows, sessions, sides = [], [], []
    for _ in range(count):
        obs, _ = env.reset(seed=int(rng.integers(1 << 30)))
        episode, ids, side = [[obs[0], 0.0, 0.0]], [], []
        for _ in range(env.H):
            side.append(np.sign(env.latent[0] - obs[0]))
            a = action(float(obs[0]), rng)
            obs, reward, _, _, info = env.step(np.array([a], np.float32))
            episode.append([obs[0], a, reward])
            ids.append(info["session_id"])
        rows.append(episode)
        sessions.append(ids)
        sides.append(side)
    return (
        torch.tensor(np.array(rows), dtype=torch.float32),
        torch.tensor(np.array(sessions)),
        torch.ones(count, env.H, dtype=torch.bool),
        torch.tensor(np.array(sides), dtype=torch.float32),
    )


def drift(args: argparse.Namespace) -> None:
    # The belief-model settings the mechanism was measured under (the earlier defaults).
    algo, _, module = _algo(
        args.seed, policy_output_gain=args.gain, vae_updates_per_iteration=1, termination_weight=1.0
    )
    random_action = lambda x, rng: float(np.clip(rng.standard_normal(), -1, 1))  # noqa: E731
    obs, _, _, side = _episodes(64, random_action, np.random.default_rng(123))
    for iteration in range(1, args.iterations + 1):
        result = algo.train()
        if iteration % 5:
            continue
        with torch.no_grad():
            belief = module.belief(obs, torch.zeros(len(obs), module.gru_hidden_dim))
            rl_input = module._rl_input(obs[:, :-1], belief[:, :-1])
            mean_action = module.pi_head(module.pi(rl_input))[..., 0]
        corr = np.corrcoef(mean_action.flatten().numpy(), side.flatten().numpy())[0, 1]
        print(
            f"iteration {iteration}: training return "
            f"{result['env_runners']['episode_return_mean']:.1f} | |mean action| "
            f"{mean_action.abs().mean().item():.2f} | corr(mean action, side) {corr:.2f}",
            flush=True,
        )
    algo.stop()


def termination(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    algo, learner, module = _algo(0, policy_output_gain=0.0)  # the earlier defaults
    settings = dataclasses.replace(
        learner.config.dynamite_settings, termination_weight=args.termination_weight
    )
    pos_weight = settings.termination_pos_weight
    threshold = losses.boundary_threshold(pos_weight)
    rng = np.random.default_rng(0)

    def hold(x: float, rng: np.random.Generator) -> float:
        return float(np.clip(-2.0 * x + args.noise * rng.standard_normal(), -1, 1))

    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    test = _episodes(200, hold, rng)[:3]
    for update in range(args.updates + 1):
        if update % 250 == 0:
            with torch.no_grad():
                encoded = module.encode(test[0], torch.zeros(200, module.gru_hidden_dim))
                scores = losses.termination_metrics(
                    encoded.termination_logit[:, 1:], test[1], test[2], threshold
                )
            print(
                f"update {update}: " + ", ".join(f"{k} {float(v):.3f}" for k, v in scores.items())
            )
        obs, sessions, valid, _ = _episodes(16, hold, rng)
        if args.loss == "full":
            loss = vae_loss(module, obs, sessions, valid, settings, pos_weight)["total"]
        else:
            encoded = module.encode(obs, torch.zeros(16, module.gru_hidden_dim))
            loss = losses.termination_loss(
                encoded.termination_logit[:, 1:], sessions, valid, pos_weight
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    algo.stop()


def buffer(args: argparse.Namespace) -> None:
    # The earlier generic defaults, under which the head stayed at the constant predictor.
    algo, learner, _ = _algo(
        0, policy_output_gain=0.0, vae_updates_per_iteration=1, termination_weight=1.0
    )
    for iteration in range(args.iterations):
        result = algo.train()
        if iteration % 20 == 0:
            metrics = result["learners"]["default_policy"]
            print(
                f"iteration {iteration}: reconstruction "
                f"{metrics['vae_reconstruction_loss']:.2f}, termination loss "
                f"{metrics['vae_termination_loss']:.3f}, F1 {metrics['vae_termination_f1']:.2f}"
            )
    obs, sessions, valid = learner._vae_buffers["default_policy"].sample(10)
    x, reward = obs[..., 0], obs[..., -1]
    gap = ((reward[:, 2:] - reward[:, 1:-1]).abs() - (x[:, 2:] - x[:, 1:-1]).abs()).abs()
    starts = losses.session_starts(sessions, valid)[:, 1:]
    print(
        f"| |Δr| − |Δx| | at a session's first step {gap[starts].mean().item():.3f}, "
        f"elsewhere {gap[~starts & valid[:, 1:]].mean().item():.4f}"
    )
    algo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("drift", help="the policy's mean action against the belief code")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--gain", type=float, default=0.01, help="policy_output_gain")
    p = commands.add_parser("termination", help="the head trained apart from PPO")
    p.add_argument("--noise", type=float, default=1.0, help="std of the action noise")
    p.add_argument("--updates", type=int, default=1000)
    p.add_argument("--loss", choices=("full", "termination"), default="full")
    p.add_argument("--termination-weight", type=float, default=1.0)
    p = commands.add_parser("buffer", help="how plainly a switch shows in the data")
    p.add_argument("--iterations", type=int, default=61)
    args = parser.parse_args()
    ray.init(num_cpus=1, include_dashboard=False, object_store_memory=200_000_000)
    {"drift": drift, "termination": termination, "buffer": buffer}[args.command](args)


if __name__ == "__main__":
    main()
