"""GridNavi: VariBAD's 5×5 goal-reaching gridworld with a goal that moves between sessions.

docs/method.md §6. The agent starts at (0, 0) and sees only its own cell; the goal is
the latent. Reward is +1 on the goal cell and −0.1 elsewhere. ``PaperGridNavi-v0`` is
the two-goal reading of the paper's own gridworld (third-party, see docs/method.md):
the inactive goal cell pays 0 instead of −0.1.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rllib_dynamite.envs.dlcmdp import DLCMDPEnv

GRID_SIZE = 5
# stay, up, right, down, left
MOVES = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0))
GOAL_REWARD = 1.0
STEP_REWARD = -0.1
# The 21 cells outside the 2×2 start corner.
GOAL_CELLS = tuple((x, y) for x in range(GRID_SIZE) for y in range(GRID_SIZE) if x >= 2 or y >= 2)
# Two far-apart goals for the easy ``num_goals=2`` variant [choice].
TWO_GOAL_CELLS = ((4, 0), (0, 4))
STRUCTURED_MOVE_PROB = 0.8


def _derangement(n: int) -> np.ndarray:
    """A fixed permutation of ``range(n)`` without fixed points: one n-cycle over a
    shuffled order, so the next goal is usually far from the last one."""
    order = np.random.default_rng(0).permutation(n)
    image = np.empty(n, dtype=np.int64)
    image[order] = np.roll(order, -1)
    return image


class GridNavi(DLCMDPEnv):
    """5×5 gridworld; the latent is the goal cell ``(x, y)`` as a float array.

    Args:
        p: session switch probability (default 0.07).
        H: horizon (default 60).
        latent_transition: ``"structured"``: w.p. 0.8 the goal moves to its image under
            a fixed derangement of the goals, otherwise a uniform draw; or ``"uniform"``.
        num_goals: 21 (every cell outside the start corner) or 2 (two fixed goals;
            at a session end the goal switches to the other one w.p. 0.8, else stays).
        other_goal_reward: reward on a goal cell that is not the current goal (default
            −0.1, like any other cell; the paper's gridworld reading pays 0).
        oracle: append the goal to the observation.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(
        self,
        p: float = 0.07,
        H: int = 60,
        latent_transition: str = "structured",
        num_goals: int = 21,
        other_goal_reward: float = STEP_REWARD,
        oracle: bool = False,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(p, H, latent_transition, oracle, render_mode)
        if num_goals not in (2, len(GOAL_CELLS)):
            raise ValueError(f"num_goals must be one of [2, 21], got {num_goals!r}")
        self.goal_cells = np.asarray(TWO_GOAL_CELLS if num_goals == 2 else GOAL_CELLS, np.float32)
        self.other_goal_reward = float(other_goal_reward)
        self._goal_set = frozenset((int(x), int(y)) for x, y in self.goal_cells)
        self._goal_image = (
            np.array([1, 0]) if num_goals == 2 else _derangement(len(self.goal_cells))
        )
        high = float(GRID_SIZE - 1)
        self.observation_space = gym.spaces.Box(0.0, high, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(MOVES))
        self.latent_space = gym.spaces.Box(0.0, high, shape=(2,), dtype=np.float32)
        self._finish_spaces()
        self._x = 0
        self._y = 0

    def _goal_index(self, latent: np.ndarray) -> int:
        matches = np.flatnonzero((self.goal_cells == latent).all(axis=1))
        if matches.size != 1:
            raise ValueError(f"latent {latent!r} is not one of the goal cells")
        return int(matches[0])

    def sample_latent(self, rng: np.random.Generator) -> np.ndarray:
        return self.goal_cells[rng.integers(len(self.goal_cells))].copy()

    def transition_latent_structured(
        self, latent: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        if rng.random() < STRUCTURED_MOVE_PROB:
            return self.goal_cells[self._goal_image[self._goal_index(latent)]].copy()
        if len(self.goal_cells) == 2:
            # The matrix [[0.2, 0.8], [0.8, 0.2]]: otherwise the goal stays. (A uniform
            # draw here would move it w.p. 0.9, not the documented 0.8.)
            return np.asarray(latent, dtype=np.float32).copy()
        return self.sample_latent(rng)

    def set_latent(self, latent: np.ndarray) -> None:
        super().set_latent(latent)
        self._goal_index(self.latent)

    def set_position(self, x: int, y: int) -> None:
        """Place the agent on a cell (tests, evaluation)."""
        if not (0 <= x < GRID_SIZE and 0 <= y < GRID_SIZE):
            raise ValueError(f"position must be inside the {GRID_SIZE}x{GRID_SIZE} grid")
        self._x, self._y = int(x), int(y)

    def _position(self) -> np.ndarray:
        return np.array([self._x, self._y], dtype=np.float32)

    def _reset_task(self, rng: np.random.Generator) -> np.ndarray:
        self._x, self._y = 0, 0
        return self._position()

    def _step_task(self, action: int) -> tuple[np.ndarray, float, bool, dict]:
        dx, dy = MOVES[int(action)]
        self._x = min(max(self._x + dx, 0), GRID_SIZE - 1)
        self._y = min(max(self._y + dy, 0), GRID_SIZE - 1)
        goal = self._latent
        if self._x == goal[0] and self._y == goal[1]:
            reward = GOAL_REWARD
        elif (self._x, self._y) in self._goal_set:
            reward = self.other_goal_reward
        else:
            reward = STEP_REWARD
        return self._position(), reward, False, {}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        cell = 32
        image = np.full((GRID_SIZE * cell, GRID_SIZE * cell, 3), 235, dtype=np.uint8)
        image[::cell, :, :] = 160
        image[:, ::cell, :] = 160

        def fill(x: int, y: int, colour: tuple[int, int, int], margin: int) -> None:
            row = (GRID_SIZE - 1 - y) * cell  # y grows upwards
            image[
                row + margin : row + cell - margin, x * cell + margin : (x + 1) * cell - margin
            ] = colour

        goal = self._latent.astype(int)
        fill(goal[0], goal[1], (60, 170, 80), 3)
        fill(self._x, self._y, (50, 90, 200), 9)
        return image
