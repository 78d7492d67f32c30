"""The ``collect`` and ``offline`` subcommands of ``rllib-dynamite`` (docs/offline.md).

:func:`add_offline_commands` adds both to the main parser's subcommands and
:data:`OFFLINE_COMMANDS` maps their names to handlers, each returning an exit status.
Everything is checked (dataset, card, settings, config file) before Ray starts; a
problem raises ``ValueError``/``FileNotFoundError``, which the main CLI prints as one
``error: ...`` line. Imports here stay light: Ray and torch load inside the handlers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def add_offline_commands(commands: Any) -> None:
    """Add ``collect`` and ``offline`` to ``commands`` (``parser.add_subparsers()``)."""
    collect = commands.add_parser(
        "collect",
        help="roll out a behaviour policy into an offline dataset (Parquet)",
        description="Roll out a trained checkpoint (greedy, with --epsilon random actions) "
        "or a random policy and write complete episodes, with each step's session_id, "
        "session_end and true latent, as Parquet plus a dataset card (DIR/dataset.json).",
    )
    collect.add_argument("--env", help="registered env id (needed for --policy random)")
    collect.add_argument(
        "--policy", required=True, help="'random', or a checkpoint / run / trial directory"
    )
    collect.add_argument("--episodes", type=int, required=True, help="episodes to collect")
    collect.add_argument("--out", type=Path, required=True, help="dataset directory to create")
    collect.add_argument(
        "--epsilon", type=float, default=0.0, help="probability of a random action (default 0)"
    )
    collect.add_argument("--seed", type=int, default=0, help="seed of envs and noise (default 0)")
    collect.add_argument(
        "--env-config",
        dest="env_config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env keyword argument, VALUE in YAML (e.g. p=0.1); random policy only",
    )

    offline = commands.add_parser(
        "offline",
        help="offline DynaMITE-RL on a dataset: belief model, relabelling, offline RL, eval",
        description="Train the belief model on the dataset, relabel every observation with "
        "its belief, train an RLlib offline learner (MARWIL for discrete actions, CQL for "
        "continuous; BC for --preset bc) and evaluate the policy online. Checkpoints, "
        "TensorBoard logs and evaluation.json go under --output.",
    )
    offline.add_argument("--data", type=Path, required=True, help="dataset directory")
    offline.add_argument(
        "--preset", default="dynamite", help="dynamite (default), varibad, ablations, or bc"
    )
    offline.add_argument(
        "--config", type=Path, help="YAML with 'settings:' and/or 'offline:' blocks"
    )
    offline.add_argument(
        "--no-session-labels",
        action="store_true",
        help="train the belief model without the dataset's session labels",
    )
    offline.add_argument("--algorithm", help="auto (default), marwil, bc, cql or iql")
    offline.add_argument("--belief-steps", type=int, help="belief-model gradient steps")
    offline.add_argument("--rl-iterations", type=int, help="offline-RL iterations")
    offline.add_argument("--eval-episodes", type=int, help="evaluation episodes")
    offline.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    offline.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a DynamiteSettings field, VALUE in YAML (e.g. kl_weight=0.01)",
    )
    offline.add_argument(
        "--output", type=Path, help="run directory (default: results/offline-ENV-PRESET)"
    )
    offline.add_argument("--num-cpus", type=int, help="CPUs of the embedded local Ray")
    offline.add_argument("--address", help="Ray cluster address (default: embedded local Ray)")
    offline.add_argument("-v", "--verbose", action="store_true", help="show Ray's own output")


def _key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    from rllib_dynamite.settings import ConfigError

    values: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise ConfigError(f"{flag} needs KEY=VALUE, got {pair!r}")
        values[key] = yaml.safe_load(text)
    return values


def run_collect(args: argparse.Namespace) -> int:
    """``rllib-dynamite collect``."""
    from rllib_dynamite.offline.collect import RANDOM_POLICY, collect

    if args.policy != RANDOM_POLICY and args.env_config:
        raise ValueError("--env-config is for --policy random; a checkpoint brings its env")
    source = "a random policy" if args.policy == RANDOM_POLICY else args.policy
    print(f"collecting {args.episodes} episodes of {source} into {args.out}")
    card = collect(
        args.out,
        policy=args.policy,
        num_episodes=args.episodes,
        env=args.env,
        env_config=_key_values(args.env_config, "--env-config"),
        epsilon=args.epsilon,
        seed=args.seed,
    )
    print(
        f"{card.env}: {card.episodes} episodes, {card.steps} steps, return "
        f"{card.return_mean:.3f} ± {card.return_std:.3f}; card: {args.out / 'dataset.json'}"
    )
    return 0


def run_offline_command(args: argparse.Namespace) -> int:
    """``rllib-dynamite offline``."""
    from rllib_dynamite.offline.pipeline import plan_offline, run_offline
    from rllib_dynamite.offline.settings import load_offline_file, offline_settings

    settings, offline = load_offline_file(args.config) if args.config else ({}, {})
    for key, value in _key_values(args.overrides, "--set").items():
        if key.startswith("env_config."):
            raise ValueError("env_config comes from the dataset card; collect a new dataset")
        settings[key] = value
    flags = {
        "algorithm": args.algorithm,
        "belief_steps": args.belief_steps,
        "rl_iterations": args.rl_iterations,
        "eval_episodes": args.eval_episodes,
    }
    offline.update({key: value for key, value in flags.items() if value is not None})
    if args.no_session_labels:
        offline["no_session_labels"] = True
    plan = plan_offline(
        args.data,
        args.preset,
        overrides=settings,
        offline=offline_settings(**offline),
        seed=args.seed,
    )
    output = args.output or Path("results") / (
        f"offline-{plan.dataset.card.env.split('/')[-1]}-{args.preset}"
    )
    from rllib_dynamite.experiments import Resources, init_ray

    print(
        f"offline {args.preset} ({plan.algorithm}) on {args.data}: "
        f"{plan.dataset.card.episodes} episodes of {plan.dataset.card.env}; results in {output}"
    )
    init_ray(args.address, Resources(num_cpus=args.num_cpus), verbose=args.verbose)
    result = run_offline(plan, output)
    metrics = result.metrics
    print(
        f"evaluation over {metrics['episodes']} episodes: return "
        f"{metrics['episode_return_mean']:.3f} ± {metrics['episode_return_std']:.3f} "
        f"(behaviour policy in the data: {plan.dataset.card.return_mean:.3f})"
    )
    print(f"metrics: {output / 'evaluation.json'}")
    return 0


OFFLINE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "collect": run_collect,
    "offline": run_offline_command,
}
