"""The method presets (method.md §4): which of DynaMITE's parts each run switches on.

A preset is a layer of :class:`~rllib_dynamite.settings.DynamiteSettings` overrides
between the env's defaults and the user's settings. No Ray or torch here, so a bad
preset name is refused before they load.
"""

from __future__ import annotations

from typing import Any

from rllib_dynamite.settings import ConfigError, _closest

PRESETS = (
    "dynamite",
    "varibad",
    "no_consistency",
    "no_conditioning",
    "no_masking",
    "rl2",
    "oracle",
    "markov_ppo",
)
# Presets whose policy is a memoryless MLP (RLlib's default PPO module).
MEMORYLESS_PRESETS = ("oracle", "markov_ppo")

_SWITCHES_OFF = dict(masking=False, latent_conditioning=False, consistency=False)
PRESET_SETTINGS: dict[str, dict[str, Any]] = {
    "dynamite": {},
    "varibad": dict(**_SWITCHES_OFF, termination_head=False),
    "no_consistency": dict(consistency=False),
    "no_conditioning": dict(latent_conditioning=False),
    "no_masking": dict(masking=False),
    "rl2": dict(use_vae=False, policy_input="hidden", detach_belief=False, termination_head=False),
    "oracle": dict(use_vae=False, policy_input="obs", oracle=True),
    "markov_ppo": dict(use_vae=False, policy_input="obs"),
}


def check_preset(preset: str) -> None:
    """``ConfigError`` naming an unknown preset, the closest one and the presets."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}{_closest(preset, PRESETS)}; "
                          f"presets: {list(PRESETS)}")  # fmt: skip
