"""Any env a user names, resolved to one entry: its name, a factory, its arguments.

``make_config``, the CLI's ``--env`` and an experiment file's ``env:`` take an env in
any of these forms (docs/custom_envs.md, "Training your env"):

- an id registered with gymnasium (``gymnasium.register``) or with Ray Tune
  (``ray.tune.register_env``); the built-in ``rllib_dynamite/...`` ids are such ids;
- an env class, or a factory: a callable whose keyword arguments are the env's;
- an import string ``"package.module:attr"`` naming a class or a factory or, as
  ``gymnasium.make`` reads it, an id that importing the module registers.

An entry's :attr:`~EnvEntry.name` is what RLlib's config, Tune's trial config and
checkpoints record; :func:`register_with_tune` lets RLlib build the env from that name
in every process of the Ray job. :func:`probe_env` reads what a run needs to know
(spaces, horizon, session labels) off one instance.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np

EnvLike = str | Callable[..., gym.Env]
GUIDE = "docs/custom_envs.md"
# The privileged labels a DLCMDP env's ``info`` carries at every step (method.md §1).
LABELS = ("latent", "session_id", "session_end")
REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class EnvEntry:
    """One env, however it was named.

    Attributes:
        name: the id, the import string, or ``module:qualname`` of a class or factory.
        factory: ``**env_kwargs -> env``.
        parameters: the keyword arguments the factory names, with their defaults
            (:data:`REQUIRED` for one without); a registered id's gymnasium ``kwargs``
            count as defaults.
        open_parameters: the factory takes any keyword argument (``**kwargs``, or a Ray
            Tune creator, which reads one ``env_config`` dict): none is refused.
        tune_registered: ``name`` is the user's own Ray Tune registration, kept as is.
    """

    name: str
    factory: Callable[..., gym.Env] = field(repr=False)
    parameters: dict[str, Any] = field(default_factory=dict)
    open_parameters: bool = False
    tune_registered: bool = False

    @property
    def defaults(self) -> dict[str, Any]:
        """The keyword arguments that have a default, with it."""
        return {k: v for k, v in self.parameters.items() if v is not REQUIRED}

    def validate(self, env_kwargs: dict[str, Any]) -> None:
        """``ValueError`` naming an unknown or a missing keyword argument."""
        if not self.open_parameters:
            for key in env_kwargs:
                if key not in self.parameters:
                    raise ValueError(
                        f"unknown argument {key!r} for {self.name}; allowed: "
                        f"{sorted(self.parameters)}"
                    )
        missing = [k for k, v in self.parameters.items() if v is REQUIRED and k not in env_kwargs]
        if missing:
            raise ValueError(f"{self.name} needs argument(s) {missing}: give them in env_config")

    def make(self, **env_kwargs: Any) -> gym.Env:
        """A new env, its keyword arguments checked first."""
        self.validate(env_kwargs)
        return self.factory(**env_kwargs)


def resolve_env(env: EnvLike) -> EnvEntry:
    """The :class:`EnvEntry` of ``env`` in any of the module docstring's forms.

    Raises:
        ValueError: ``env`` is none of them; one line, naming it.
    """
    if isinstance(env, str):
        return _resolve_name(env)
    if callable(env):
        return _callable_entry(_callable_name(env), env)
    raise ValueError(
        f"an env is a registered id, a class or factory, or 'package.module:attr'; got {env!r}"
    )


def short_name(name: str) -> str:
    """The last part of an env's name: ``GridNavi-v0``, ``SetPoint`` (for directories)."""
    return name.replace(":", "/").replace(".", "/").rstrip("/").rsplit("/", 1)[-1] or name


def register_with_tune(entry: EnvEntry) -> None:
    """Let RLlib build ``entry`` from its name in every process of the Ray job.

    A name the user registered with Ray Tune is left to their creator. Registrations
    reach Ray's key-value store at ``ray.init`` (or at once when Ray is up), and
    ``ray.shutdown`` forgets them: call this before every build, as ``make_config``
    does.
    """
    if entry.tune_registered:
        return
    from ray.tune import register_env

    register_env(entry.name, _KeywordCreator(entry.factory))


def ensure_registered(name: str) -> None:
    """Register the env a saved config names (a checkpoint read in a new process) with
    Ray Tune, unless that name already is."""
    from ray.tune.registry import ENV_CREATOR, _global_registry

    if not _global_registry.contains(ENV_CREATOR, name):
        register_with_tune(resolve_env(name))


@dataclass(frozen=True)
class _KeywordCreator:
    """RLlib's env creator: the ``env_config`` dict as keyword arguments of ``factory``.

    A factory from an importable module is pickled by reference, so every Ray worker
    imports it (which ``runtime_env`` makes possible on a cluster); one from ``__main__``
    or a function body travels by value.
    """

    factory: Callable[..., gym.Env]

    def __call__(self, env_config: dict[str, Any]) -> gym.Env:
        return self.factory(**dict(env_config))


def _resolve_name(name: str) -> EnvEntry:
    """A gymnasium id, else an import string, else a Ray Tune id: a name that
    :func:`register_with_tune` registered resolves as what it names, never as that
    registration."""
    entry = _gym_entry(name, name)
    if entry is not None:
        return entry
    module_name, separator, attr = name.partition(":")
    if separator and module_name and attr:
        return _import_entry(name, module_name, attr)
    entry = _tune_entry(name, name)
    if entry is not None:
        return entry
    raise ValueError(
        f"unknown env {name!r}{_closest_id(name)}: not an id registered with gymnasium "
        f"or Ray Tune, nor 'package.module:attr' (see {GUIDE})"
    )


def _import_entry(name: str, module_name: str, attr: str) -> EnvEntry:
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"env {name!r}: cannot import {module_name!r}: {error}") from None
    # "module:id", as gymnasium.make reads it: an id that importing the module registers.
    entry = _gym_entry(attr, name) or _tune_entry(attr, name)
    if entry is not None:
        return entry
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"env {name!r}: {module_name} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"env {name!r} is a {type(target).__name__}, not a class or factory")
    return _callable_entry(name, target)


def _closest_id(name: str) -> str:
    """`` (did you mean 'rllib_dynamite/GridNavi-v0'?)`` for ``GridNavi``, or ``""``."""
    by_short_name = {short_name(env_id): env_id for env_id in gym.registry}
    close = difflib.get_close_matches(name, list(gym.registry), n=1) or [
        by_short_name[match] for match in difflib.get_close_matches(name, by_short_name, n=1)
    ]
    return f" (did you mean {close[0]!r}?)" if close else ""


def _gym_entry(env_id: str, name: str) -> EnvEntry | None:
    """The entry of an id registered with gymnasium: its spec (entry point and kwargs)
    defines the env."""
    spec = gym.registry.get(env_id)
    if spec is None:
        return None
    entry_point = spec.entry_point
    creator = entry_point if callable(entry_point) else _load_entry_point(entry_point)
    parameters, open_parameters = _signature(creator)
    return EnvEntry(
        name,
        partial(gym.make, spec),
        {**parameters, **spec.kwargs},
        open_parameters,
        tune_registered=name == env_id and _user_tune_creator(env_id) is not None,
    )


def _tune_entry(env_id: str, name: str) -> EnvEntry | None:
    """The entry of an id registered with Ray Tune only: its creator takes ``env_config``
    as its one argument."""
    creator = _user_tune_creator(env_id)
    if creator is None:
        return None
    return EnvEntry(
        name,
        partial(_call_tune_creator, creator),
        open_parameters=True,
        tune_registered=name == env_id,
    )


def _user_tune_creator(env_id: str) -> Callable[..., gym.Env] | None:
    """The creator of ``env_id`` in Ray Tune's registry, unless :func:`register_with_tune`
    put it there."""
    # Registering imports Ray Tune's registry: a process that has not imported it holds
    # no registration, and need not import Ray (seconds) to learn that.
    if "ray.tune.registry" not in sys.modules:
        return None
    from ray.tune.registry import ENV_CREATOR, _global_registry

    if not _global_registry.contains(ENV_CREATOR, env_id):
        return None
    creator = _global_registry.get(ENV_CREATOR, env_id)
    return None if isinstance(creator, _KeywordCreator) else creator


def _load_entry_point(entry_point: str) -> Callable[..., gym.Env]:
    return gym.envs.registration.load_env_creator(entry_point)


def _call_tune_creator(creator: Callable[[Any], gym.Env], **env_kwargs: Any) -> gym.Env:
    from ray.rllib.env.env_context import EnvContext

    return creator(EnvContext(env_kwargs, worker_index=0))


def _callable_entry(name: str, factory: Callable[..., gym.Env]) -> EnvEntry:
    parameters, open_parameters = _signature(factory)
    return EnvEntry(name, factory, parameters, open_parameters)


def _callable_name(factory: Any) -> str:
    qualname = getattr(factory, "__qualname__", None) or type(factory).__qualname__
    return f"{getattr(factory, '__module__', None) or '__main__'}:{qualname}"


def _signature(factory: Callable[..., Any]) -> tuple[dict[str, Any], bool]:
    """(keyword arguments with their defaults, whether any other is accepted too)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: nothing to read
        return {}, True
    named = {
        p.name: p.default for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    return named, any(p.kind is p.VAR_KEYWORD for p in parameters)


@dataclass(frozen=True)
class EnvFacts:
    """What a run needs to know about an env, read off one instance.

    ``horizon``: the DLCMDP's ``H`` or the registered ``max_episode_steps``, the smaller
    of the two; ``switch_probability``: the DLCMDP's ``p``;
    ``labels``: which of :data:`LABELS` its step ``info`` carries.
    """

    observation_space: gym.Space
    action_space: gym.Space
    horizon: int
    switch_probability: float | None
    labels: tuple[str, ...]
    latent_size: int = 0  # features of info["latent"] (0: no latent label)

    @property
    def missing_labels(self) -> tuple[str, ...]:
        return tuple(label for label in LABELS if label not in self.labels)


def probe_env(entry: EnvEntry, env_kwargs: dict[str, Any]) -> EnvFacts:
    """Build ``entry`` with ``env_kwargs``, reset it and take one random step.

    Raises:
        ValueError: an unknown or missing keyword argument, a ``ValueError`` of the env
            while it is built, reset or stepped, a space other than ``Box`` or
            ``Discrete``, or no horizon; one line, naming the env.
    """
    entry.validate(env_kwargs)
    try:
        env = entry.factory(**env_kwargs)
    except ValueError as error:
        raise ValueError(f"env {entry.name!r}: {error}") from None
    try:
        env.action_space.seed(0)
        env.reset(seed=0)
        *_, info = env.step(env.action_space.sample())
    except ValueError as error:
        raise ValueError(f"env {entry.name!r}: {error}") from None
    finally:
        env.close()
    for kind, space in (("observation", env.observation_space), ("action", env.action_space)):
        if not isinstance(space, gym.spaces.Box | gym.spaces.Discrete):
            raise ValueError(
                f"env {entry.name!r}: its {kind} space must be a Box or Discrete, got {space}"
            )
    unwrapped = env.unwrapped
    limits = [getattr(unwrapped, "H", None), env.spec and env.spec.max_episode_steps]
    limits = [int(limit) for limit in limits if limit]
    if not limits:
        raise ValueError(
            f"env {entry.name!r} has no horizon: give it an 'H' argument (a DLCMDP), or "
            f"register it with max_episode_steps (see {GUIDE})"
        )
    p = getattr(unwrapped, "p", None)
    return EnvFacts(
        observation_space=env.observation_space,
        action_space=env.action_space,
        horizon=min(limits),
        switch_probability=float(p) if isinstance(p, int | float) else None,
        labels=tuple(label for label in LABELS if label in info),
        latent_size=int(np.asarray(info["latent"]).size) if "latent" in info else 0,
    )
