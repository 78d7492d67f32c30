"""A bounded buffer of recent whole episodes for belief-model training (method.md §3)."""

from __future__ import annotations

import torch


class EpisodeBuffer:
    """Ring buffer of zero-padded episodes, oldest overwritten first.

    Stores, per episode, the augmented observations [T+1, F], the session id of each
    transition [T] and which transitions are real [T], where ``T + 1`` is the padded
    sequence length of the training batch.

    Args:
        capacity: the most episodes kept.
        seed: seed of the sampling generator (None: random).
    """

    def __init__(self, capacity: int, seed: int | None = None) -> None:
        self.capacity = capacity
        self._obs: torch.Tensor | None = None
        self._session_ids: torch.Tensor | None = None
        self._valid: torch.Tensor | None = None
        self._next = 0
        self._size = 0
        self._generator = torch.Generator()
        if seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(seed)

    def __len__(self) -> int:
        return self._size

    def add(self, obs: torch.Tensor, session_ids: torch.Tensor, valid: torch.Tensor) -> None:
        """Add a training batch's episodes: ``obs`` [B, T+1, F]; ``session_ids`` and
        ``valid`` [B, T+1] per row of the batch (the last row, PPO's bootstrap step,
        is not a transition and is dropped)."""
        obs = obs.detach().to("cpu", torch.float32)
        session_ids = session_ids[:, :-1].detach().to("cpu", torch.int64)
        valid = valid[:, :-1].detach().to("cpu", torch.bool)
        if self._obs is None:
            self._obs = torch.zeros((self.capacity, *obs.shape[1:]))
            self._session_ids = torch.zeros(
                (self.capacity, *session_ids.shape[1:]), dtype=torch.int64
            )
            self._valid = torch.zeros((self.capacity, *valid.shape[1:]), dtype=torch.bool)
        if obs.shape[1:] != self._obs.shape[1:]:
            raise ValueError(
                f"episodes of shape {tuple(obs.shape[1:])} do not fit a buffer of "
                f"{tuple(self._obs.shape[1:])}: max_seq_len must stay fixed"
            )
        for start in range(0, obs.shape[0], self.capacity):
            chunk = slice(start, start + self.capacity)
            count = obs[chunk].shape[0]
            rows = (torch.arange(count) + self._next) % self.capacity
            self._obs[rows] = obs[chunk]
            self._session_ids[rows] = session_ids[chunk]
            self._valid[rows] = valid[chunk]
            self._next = (self._next + count) % self.capacity
            self._size = min(self._size + count, self.capacity)

    def sample(self, num_episodes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw ``num_episodes`` stored episodes uniformly (with replacement when the
        buffer holds fewer): ``(obs, session_ids, valid)``."""
        if self._size == 0:
            raise RuntimeError("the episode buffer is empty")
        if num_episodes <= self._size:
            index = torch.randperm(self._size, generator=self._generator)[:num_episodes]
        else:
            index = torch.randint(self._size, (num_episodes,), generator=self._generator)
        return self._obs[index], self._session_ids[index], self._valid[index]
