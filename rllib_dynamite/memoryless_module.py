"""``MemorylessPPOModule``: RLlib's default PPO module for the memoryless presets
(``oracle``, ``markov_ppo``), with the same initial action noise and observation
normaliser as :class:`~rllib_dynamite.rl_module.DynamiteRLModule`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.core.columns import Columns

from rllib_dynamite.models.mlp import RunningNormalizer, init_output_layer
from rllib_dynamite.rl_module import MODEL_DEFAULTS


class MemorylessPPOModule(DefaultPPOTorchRLModule):
    """RLlib's default PPO module (an MLP policy and a separate MLP critic), for the
    memoryless presets. On a continuous action space its Gaussian has a free,
    state-independent log standard deviation, as :class:`DynamiteRLModule`'s, starting
    at ``log(model_config["initial_action_std"])``: every preset starts with the same
    action noise, and its last layer is initialised as DynamiteRLModule's
    (``policy_output_gain``).

    With ``model_config["normalize_observations"]`` the policy and critic read the
    observation through a running mean/std normaliser, updated from each training
    minibatch after its forward pass (as ``DynamiteRLModule``'s ``s_t``)."""

    def setup(self) -> None:
        super().setup()
        self.obs_normalizer = (
            RunningNormalizer(int(np.prod(self.observation_space.shape)))
            if self.model_config.get("normalize_observations")
            else None
        )
        log_std = getattr(self.pi, "log_std", None)
        if log_std is not None:
            initial = self.model_config.get(
                "initial_action_std", MODEL_DEFAULTS["initial_action_std"]
            )
            with torch.no_grad():
                log_std.fill_(math.log(initial))
        # The policy head's last linear layer outputs the action distribution's inputs.
        output_layer = [m for m in self.pi.modules() if isinstance(m, torch.nn.Linear)][-1]
        init_output_layer(
            output_layer,
            self.model_config.get("policy_output_gain", MODEL_DEFAULTS["policy_output_gain"]),
        )

    def _normalized(self, batch: dict[str, Any]) -> dict[str, Any]:
        if self.obs_normalizer is None:
            return batch
        return {**batch, Columns.OBS: self.obs_normalizer(batch[Columns.OBS])}

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return super()._forward(self._normalized(batch), **kwargs)

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        out = super()._forward_train(self._normalized(batch), **kwargs)
        if self.obs_normalizer is not None:
            mask = batch.get(Columns.LOSS_MASK)
            obs = batch[Columns.OBS]
            self.obs_normalizer.update(obs[mask.bool()] if mask is not None else obs)
        return out

    def compute_values(
        self, batch: dict[str, Any], embeddings: torch.Tensor | None = None
    ) -> torch.Tensor:
        return super().compute_values(
            batch if embeddings is not None else self._normalized(batch), embeddings
        )
