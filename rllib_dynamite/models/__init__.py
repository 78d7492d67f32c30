"""Torch networks of the belief model (docs/method.md §2), free of RLlib."""

from rllib_dynamite.models.decoder import PairwiseDecoder
from rllib_dynamite.models.encoder import BeliefEncoder, EncoderOutput
from rllib_dynamite.models.mlp import mlp
from rllib_dynamite.models.prior import LatentDynamicsPrior

__all__ = ["BeliefEncoder", "EncoderOutput", "LatentDynamicsPrior", "PairwiseDecoder", "mlp"]
