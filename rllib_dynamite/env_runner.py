"""``FreshEpisodesEnvRunner``: RLlib's single-agent EnvRunner without the seed replay.

With ``batch_mode="complete_episodes"`` (every preset here: the learner needs whole
episodes) RLlib's ``SingleAgentEnvRunner.sample()`` collects one episode per vectorised
env as ``num_episodes``, and after a ``num_episodes`` call it flags its envs for an
"initial" reset, which passes the configured seed again. So every training batch of a
seeded run replayed the first batch's env randomness: on GridNavi the same goal
sequences and session boundaries in every iteration, 16 of them per EnvRunner for the
whole run. A memoryless policy can overfit those (``markov_ppo`` trained to a return of
+0.4 on the 21-goal GridNavi, above the −2.9 that any memoryless policy can expect),
and the belief model saw 16 latent sequences instead of a fresh draw per episode.

This runner seeds its envs once, when they are created, and lets every later batch
continue their random streams. Explicit ``num_episodes`` calls (the evaluator's) keep
RLlib's behaviour: the same seeded episodes at every evaluation.
"""

from __future__ import annotations

from typing import Any

from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner


class FreshEpisodesEnvRunner(SingleAgentEnvRunner):
    """A ``SingleAgentEnvRunner`` whose training batches never replay the seed."""

    def sample(
        self,
        *,
        num_timesteps: int | None = None,
        num_episodes: int | None = None,
        **kwargs: Any,
    ) -> Any:
        episodes = super().sample(num_timesteps=num_timesteps, num_episodes=num_episodes, **kwargs)
        if num_timesteps is None and num_episodes is None:
            # A training batch: the next one resets its envs anyway (complete episodes),
            # but without passing the seed again.
            self._needs_initial_reset = False
        return episodes
