"""The ``diagnose`` subcommands of ``rllib-dynamite`` (docs/usage.md, "Diagnose").

:func:`add_diagnose_commands` adds ``diagnose`` and its diagnostics to the main parser's
subcommands, and :data:`DIAGNOSE_COMMANDS` maps ``diagnose`` to its handler, which
returns an exit status. Arguments are checked (directories, numbers, JSON, env ids)
before anything heavy loads; a problem raises ``ValueError``/``FileNotFoundError``,
which the main CLI prints as one ``error: ...`` line, status 2. Imports here stay light:
the analysis modules (torch, Ray, pandas) load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def add_diagnose_commands(commands: Any) -> None:
    """Add ``diagnose`` and its diagnostics to ``commands`` (``parser.add_subparsers()``)."""
    diagnose = commands.add_parser(
        "diagnose",
        help="diagnostics of trained policies, belief models and envs",
        description="Diagnostics of trained policies, their belief models and their envs "
        "(docs/usage.md). Most read the trials of `rllib-dynamite tune` results "
        "directories and play each one's final checkpoint on seeded greedy episodes.",
    )
    what = diagnose.add_subparsers(dest="diagnostic", required=True, metavar="DIAGNOSTIC")

    beliefs = _trials_command(
        what,
        "beliefs",
        _beliefs,
        "does the belief hold the latent after a session switch?",
        "For belief trials on any env: read-out R² of the latent from the belief on "
        "first-session and later-session steps; the weights of the new and the previous "
        "latent in what the first-session read-out decodes after a switch (1 / 0: it "
        "follows the switch, 0 / 1: it holds the old latent); and the AUC of the reward's "
        "one-step jump and of the termination head's logit as switch detectors (0.5 is "
        "chance).",
    )
    beliefs.add_argument(
        "--env-velocity",
        action="store_true",
        help="HalfCheetahVel: also read out |v_goal - v at the switch| on later sessions",
    )

    steps = _trials_command(
        what,
        "belief-steps",
        _belief_steps,
        "how far the belief moves per step, and how accurate it is (gridworlds)",
        "For gridworld trials: each VAE term times its weight, the belief's movement "
        "KL(b_t || b_t-1) inside a session and at a switch, how often the consistency "
        "hinge is active, the goal accuracy by steps since the session began, on two-goal "
        "gridworlds the accuracy and the policy's stay probability on the goal that moved, "
        "and the greedy and sampled returns; means over seeds per env and method.",
        episodes=200,
    )
    steps.add_argument(
        "--presets",
        default="dynamite,no_consistency",
        help="comma-separated presets to measure (default: dynamite,no_consistency)",
    )
    steps.add_argument(
        "--last", type=int, default=20, help="iterations the losses are averaged over"
    )
    steps.add_argument("--csv", type=Path, help="also write every trial's row here")

    probe = what.add_parser(
        "belief-probe",
        help="can the belief model learn GridNavi's goal from random episodes?",
        description="Train only the belief model of a fresh module on a random policy's "
        "GridNavi episodes; every 200 updates, the reconstruction loss and how often the "
        "reward decoder's most likely goal cell is the true goal (on the steps the agent "
        "was just paid, and on all steps).",
    )
    probe.add_argument("--preset", default="dynamite", help="default: dynamite")
    probe.add_argument("--updates", type=int, default=2000, help="default: 2000")
    probe.add_argument("--episodes", type=int, default=400, help="training episodes")
    _add_set(probe, "e.g. vae_lr=3e-3 or env_config='{\"p\": 0.0}'")
    probe.set_defaults(diagnose=_belief_probe)

    _trials_command(
        what,
        "belief-use",
        _belief_use,
        "does the policy gain from reading its belief?",
        "For memory trials (belief presets and rl2) on any env: the greedy return with the "
        "policy's own belief, with the belief blanked (the training mean), with another "
        "episode's belief, and with the reward the memory reads set to 0; the belief's "
        "spread within and across episodes, the share at the normaliser's clip, and how "
        "far the action moves without the belief.",
    )

    fit = what.add_parser(
        "belief-fit",
        help="how fast a fresh belief model learns the latent on a policy's episodes",
        description="A trained belief trial plays episodes with sampled actions; a fresh "
        "belief model then trains alone on them, and every --every updates this prints, "
        "on held-out episodes, the latent's read-out R², the reconstruction with own and "
        "with shuffled beliefs, the new and old latent's weights after a switch and the "
        "termination head's F1. Any env; no RL.",
    )
    fit.add_argument("trial", type=Path, help="a trial directory or checkpoint")
    fit.add_argument("--episodes", type=int, default=400, help="training episodes")
    fit.add_argument("--held-out", type=int, default=50, help="held-out episodes")
    fit.add_argument("--updates", type=int, default=2000, help="default: 2000")
    fit.add_argument("--every", type=int, default=200, help="updates between reports")
    fit.add_argument("--seed", type=int, default=0, help="seed of the episodes and the model")
    fit.add_argument(
        "--clip-reward", type=float, default=None, metavar="C",
        help="clip the rewards (the encoder's input and the decoder's target) to ±C",
    )  # fmt: skip
    fit.add_argument(
        "--scale-reward", type=float, default=1.0, metavar="K",
        help="multiply the rewards (after any clip) by K",
    )  # fmt: skip
    fit.add_argument(
        "--losses", default=None, metavar="PRESET[,PRESET...]",
        help="train one fresh belief model per preset's loss switches, all on the same "
        "episodes (default: the trial's own)",
    )  # fmt: skip
    _add_set(fit, "e.g. vae_lr=3e-3")
    fit.set_defaults(diagnose=_belief_fit)

    streams = what.add_parser(
        "seed-streams",
        help="did trials of different seeds meet independent tasks?",
        description="Correlate the detrended per-iteration training returns of every pair "
        "of trials: pairs of one seed (which share their tasks by design) against pairs "
        "of different seeds (which should not correlate).",
    )
    streams.add_argument("results", type=Path, nargs="+", help="Tune results directories")
    streams.add_argument(
        "--iterations", type=int, default=None, help="only the first N iterations (default: all)"
    )
    streams.set_defaults(diagnose=_seed_streams)

    _trials_command(
        what,
        "velocity",
        _velocity,
        "how closely HalfCheetahVel policies run at their target velocity",
        "For HalfCheetahVel trials: the mean return, the slope of the mean velocity on the "
        "target (1: as fast as asked), the fastest episode's mean velocity, and the return "
        "on the lowest, middle and highest third of targets.",
    )

    switch = what.add_parser(
        "switch-value",
        help="when does leaving the old goal pay on a two-goal gridworld?",
        description="Value iteration with the goal observed: at the agent's goal cell just "
        "after the goal moved, the gain of walking to the new goal, the cost of the same "
        "walk if it did not move, and the belief on 'it moved' above which walking pays.",
    )
    switch.add_argument(
        "--env", default="rllib_dynamite/PaperGridNavi-v0", help="a two-goal GridNavi id"
    )
    switch.add_argument(
        "--env-config",
        default="{}",
        metavar="JSON",
        help="env arguments, e.g. '{\"num_goals\": 2}'",
    )
    switch.add_argument(
        "--gammas", default="0.95,0.97,0.99", help="comma-separated discount factors"
    )
    switch.set_defaults(diagnose=_switch_value)

    bounds = what.add_parser(
        "bounds",
        help="what a belief can reach on each gridworld, beside the scripted references",
        description="On the same seeded episodes: the scripted random, best memoryless and "
        "oracle returns, a Bayes-filter goal search (a lower bound on the Bayes optimum), "
        "and on two-goal gridworlds the exact Bayes optimum, the stationary optimum at the "
        "training discount and the best memoryless policy's exact return.",
    )
    bounds.add_argument("--episodes", type=int, default=500, help="default: 500")
    bounds.add_argument("--seed", type=int, default=0, help="seed of the episodes")
    bounds.add_argument(
        "--env", action="append", help="a GridNavi id, repeatable (default: all three)"
    )
    bounds.set_defaults(diagnose=_bounds)


def _trials_command(
    what: Any, name: str, handler: Handler, summary: str, description: str, episodes: int = 25
) -> argparse.ArgumentParser:
    """A diagnostic that plays the final checkpoint of every trial of results directories."""
    parser = what.add_parser(name, help=summary, description=description)
    parser.add_argument("results", type=Path, nargs="+", help="Tune results directories")
    parser.add_argument(
        "--episodes", type=int, default=episodes, help=f"evaluation episodes (default {episodes})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the evaluation episodes")
    parser.set_defaults(diagnose=handler)
    return parser


def _add_set(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help=f"override a DynamiteSettings field, VALUE in JSON ({example})",
    )


def _overrides(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"--set needs NAME=JSON, got {pair!r}")
        values[name] = _json(text, f"--set {name}")
    return values


def _json(text: str, flag: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{flag}: not JSON ({error.msg}): {text!r}") from None


def _positive(value: int, flag: str) -> None:
    if value <= 0:
        raise ValueError(f"{flag} must be > 0, got {value}")


def _not_negative(value: int, flag: str) -> None:
    if value < 0:
        raise ValueError(f"{flag} must be >= 0, got {value}")


def _directories(results: list[Path]) -> list[Path]:
    for directory in results:
        if not directory.is_dir():
            raise FileNotFoundError(f"no such results directory: {directory}")
    return results


def _names(text: str, flag: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError(f"{flag} needs comma-separated names, got {text!r}")
    return names


def run_diagnose(args: argparse.Namespace) -> int:
    """``rllib-dynamite diagnose DIAGNOSTIC``."""
    return args.diagnose(args)


def _beliefs(args: argparse.Namespace) -> int:
    _positive(args.episodes, "--episodes")
    _directories(args.results)
    from rllib_dynamite.analysis.sessions import print_beliefs_by_session

    print_beliefs_by_session(args.results, args.episodes, args.seed, args.env_velocity)
    return 0


def _belief_steps(args: argparse.Namespace) -> int:
    _positive(args.episodes, "--episodes")
    _positive(args.last, "--last")
    presets = _names(args.presets, "--presets")
    _directories(args.results)
    from rllib_dynamite.analysis.belief_steps import print_belief_steps

    print_belief_steps(args.results, presets, args.episodes, args.seed, args.last, args.csv)
    return 0


def _belief_probe(args: argparse.Namespace) -> int:
    _not_negative(args.updates, "--updates")
    _positive(args.episodes, "--episodes")
    overrides = _overrides(args.overrides)
    from rllib_dynamite.analysis.belief_probe import probe_belief_model

    probe_belief_model(args.preset, args.updates, args.episodes, overrides)
    return 0


def _belief_use(args: argparse.Namespace) -> int:
    _positive(args.episodes, "--episodes")
    _directories(args.results)
    from rllib_dynamite.analysis.belief_use import print_belief_use

    print_belief_use(args.results, args.episodes, args.seed)
    return 0


def _belief_fit(args: argparse.Namespace) -> int:
    for flag in ("episodes", "held_out", "every"):
        _positive(getattr(args, flag), "--" + flag.replace("_", "-"))
    _not_negative(args.updates, "--updates")
    overrides = _overrides(args.overrides)
    losses = _names(args.losses, "--losses") if args.losses is not None else None
    if not args.trial.exists():
        raise FileNotFoundError(f"no such checkpoint or directory: {args.trial}")
    from rllib_dynamite.analysis.belief_fit import fit_beliefs

    fit_beliefs(
        args.trial, args.episodes, args.held_out, args.updates, args.every, args.seed,
        args.clip_reward, args.scale_reward, losses, overrides,
    )  # fmt: skip
    return 0


def _seed_streams(args: argparse.Namespace) -> int:
    if args.iterations is not None and args.iterations < 3:
        raise ValueError(f"--iterations must be at least 3, got {args.iterations}")
    _directories(args.results)
    from rllib_dynamite.analysis.seed_streams import print_seed_streams

    print_seed_streams(args.results, args.iterations)
    return 0


def _velocity(args: argparse.Namespace) -> int:
    _positive(args.episodes, "--episodes")
    _directories(args.results)
    from rllib_dynamite.analysis.velocity import print_velocity_tracking

    print_velocity_tracking(args.results, args.episodes, args.seed)
    return 0


def _switch_value(args: argparse.Namespace) -> int:
    env_config = _json(args.env_config, "--env-config")
    if not isinstance(env_config, dict):
        raise ValueError(f"--env-config must be a JSON object, got {args.env_config!r}")
    try:
        gammas = [float(g) for g in args.gammas.split(",")]
    except ValueError:
        raise ValueError(f"--gammas must be numbers like 0.95,0.99, got {args.gammas!r}") from None
    if not all(0.0 <= g < 1.0 for g in gammas):
        raise ValueError(f"--gammas must lie in [0, 1), got {args.gammas!r}")
    from rllib_dynamite.envs import make

    try:
        env = make(args.env, **env_config).unwrapped
    except TypeError as error:  # an argument the env does not take
        raise ValueError(str(error)) from None
    from rllib_dynamite.analysis.switch_value import print_switch_value

    print_switch_value(args.env, env, gammas)
    return 0


def _bounds(args: argparse.Namespace) -> int:
    if args.episodes < 2:
        raise ValueError(f"--episodes must be at least 2 (a standard error), got {args.episodes}")
    from rllib_dynamite.envs import make
    from rllib_dynamite.envs.gridnavi import GridNavi

    env_ids = args.env or None
    for env_id in env_ids or ():
        if not isinstance(make(env_id).unwrapped, GridNavi):
            raise ValueError(f"bounds are computed for GridNavi ids, not {env_id}")
    from rllib_dynamite.analysis.references import GRIDNAVI_IDS, print_bounds

    print_bounds(env_ids or GRIDNAVI_IDS, args.episodes, args.seed)
    return 0


DIAGNOSE_COMMANDS: dict[str, Handler] = {"diagnose": run_diagnose}
