"""Offline DynaMITE-RL (method.md §5; docs/offline.md).

- :mod:`~rllib_dynamite.offline.dataset`: Parquet datasets and their card, with checks.
- :mod:`~rllib_dynamite.offline.collect`: roll out a behaviour policy into a dataset.
- :mod:`~rllib_dynamite.offline.belief`: belief-model training and belief relabelling.
- :mod:`~rllib_dynamite.offline.rl`: RLlib offline learners on the relabelled data.
- :mod:`~rllib_dynamite.offline.pipeline`: the whole run, ``plan_offline`` → ``run_offline``.
- :mod:`~rllib_dynamite.offline.cli`: the ``collect`` and ``offline`` subcommands.

The submodules are imported on use, so the CLI can list commands without loading
torch or RLlib's algorithms.
"""
