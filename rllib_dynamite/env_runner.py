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

It also gives every vectorised env a seed of its own. RLlib seeds a runner with
``seed + worker_index`` (+10⁶ for evaluation) and gymnasium's vector env seeds its k-th
env with that plus k, so trials of seeds 0 and 1 shared 15 of their 16 env streams (the
same goals, target velocities, session boundaries, k shifted by one), as did the
EnvRunners of one trial: the "independent" seeds of a study drew nearly the same tasks
in every batch (detrended per-iteration training returns of HalfCheetahVel trials of
different seeds correlated +0.86, median over pairs; +0.02 after this fix;
``rllib-dynamite diagnose seed-streams``, docs/errata.md). Here each env's seed is drawn
from ``numpy.random.SeedSequence([seed, worker index, evaluation])``: fixed by
the trial's seed, with no stream shared between runners or trials.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner


def env_seeds(seed: int, worker_index: int, evaluation: bool, num_envs: int) -> list[int]:
    """One seed per vectorised env of a runner, none shared with another runner or trial."""
    entropy = [seed % 2**63, worker_index, int(evaluation)]
    return [int(s) for s in np.random.SeedSequence(entropy).generate_state(num_envs)]


class FreshEpisodesEnvRunner(SingleAgentEnvRunner):
    """A ``SingleAgentEnvRunner`` whose training batches never replay the seed."""

    def make_env(self) -> None:
        super().make_env()
        if self.config.seed is not None:
            # In place of RLlib's seed + worker index, to which gymnasium adds k for the
            # k-th env: one seed per env from (seed, worker index, evaluation), as a list,
            # which gymnasium's vector reset takes.
            self._seed = env_seeds(
                self.config.seed,
                self.worker_index or 0,  # None for a runner built without one
                self.config.in_evaluation,
                self.num_envs,
            )

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
