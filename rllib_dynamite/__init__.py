"""rllib-dynamite: DynaMITE-RL on Ray RLlib's new API stack.

Importing the package registers every DLCMDP env id with gymnasium and with RLlib.
"""

from rllib_dynamite.envs import ENV_IDS, register_with_rllib

register_with_rllib()

__version__ = "0.1.0"
__all__ = ["ENV_IDS", "__version__"]
