"""Diagnostics of trained policies, their belief models and their envs (docs/usage.md).

Each module answers one question and backs one ``rllib-dynamite diagnose`` subcommand
(:mod:`rllib_dynamite.analysis.cli`):

- :mod:`~rllib_dynamite.analysis.sessions` (``beliefs``): does the belief hold the
  latent after a session switch as well as in the first session?
- :mod:`~rllib_dynamite.analysis.belief_steps` (``belief-steps``): how far the belief
  moves per step, and how accurate it is by steps since the session began (gridworlds);
- :mod:`~rllib_dynamite.analysis.belief_probe` (``belief-probe``): can the belief model
  learn GridNavi's goal from a random policy's episodes, without RL?
- :mod:`~rllib_dynamite.analysis.belief_use` (``belief-use``): does the policy gain
  from reading its belief?
- :mod:`~rllib_dynamite.analysis.belief_fit` (``belief-fit``): how fast a fresh belief
  model learns the latent on a trained policy's episodes;
- :mod:`~rllib_dynamite.analysis.seed_streams` (``seed-streams``): did trials of
  different seeds meet independent tasks?
- :mod:`~rllib_dynamite.analysis.velocity` (``velocity``): how closely HalfCheetahVel
  policies run at their target velocity;
- :mod:`~rllib_dynamite.analysis.switch_value` (``switch-value``): when leaving the old
  goal pays on a two-goal gridworld;
- :mod:`~rllib_dynamite.analysis.references` (``bounds``): the scripted and Bayes
  references a trained policy is read against, computed and printed in one place.

:mod:`~rllib_dynamite.analysis.playback` is the loop they share: every trial of a
study, its final checkpoint, seeded evaluation episodes. Nothing here is imported by
this package's ``__init__``, so the CLI stays light until a command runs.
"""
