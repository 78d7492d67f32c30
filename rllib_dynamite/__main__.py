"""``python -m rllib_dynamite``: the same as the ``rllib-dynamite`` command."""

from rllib_dynamite.cli import main

raise SystemExit(main())
