"""``diagnose belief-fit`` (analysis/belief_fit.py) trains fresh belief models, one per
preset's losses, on one trained trial's episodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from rllib_dynamite.analysis.belief_fit import fit_beliefs
from rllib_dynamite.config import make_config

GRID = "rllib_dynamite/GridNavi-v0"
SMALL = dict(num_env_runners=0, num_envs_per_env_runner=2, seed=0)


def _checkpoint(preset: str, path: Path) -> Path:
    algo = make_config(GRID, preset, **SMALL).build_algo()
    try:
        algo.train()
        return Path(algo.save_to_path(path))
    finally:
        algo.stop()


def test_each_preset_losses_train_on_the_same_episodes(ray_local, tmp_path, capsys):
    checkpoint = _checkpoint("dynamite", tmp_path / "dynamite")
    fit_beliefs(
        checkpoint, episodes=6, held_out=4, updates=2, every=1, losses=["dynamite", "varibad"]
    )
    out = capsys.readouterr().out
    blocks = [line for line in out.splitlines() if ": 6 episodes, batches of" in line]
    assert [b.split(":")[0] for b in blocks] == ["dynamite", "varibad"]
    rows = [line.split(" | ") for line in out.splitlines() if line[:1].isdigit()]
    assert [row[0] for row in rows] == ["0", "1", "2"] * 2
    assert all(len(row) == 7 for row in rows)
    # the termination head's F1 is reported where its loss is on, not for varibad
    assert rows[2][6] != "nan" and rows[5][6] == "nan"


def test_losses_that_need_a_missing_head_or_are_no_belief_preset_are_one_error(ray_local, tmp_path):
    with pytest.raises(ValueError, match="not a belief-model preset"):
        fit_beliefs(tmp_path, losses=["rl2"])
    checkpoint = _checkpoint("varibad", tmp_path / "varibad")
    with pytest.raises(ValueError, match="no termination head"):
        fit_beliefs(checkpoint, losses=["dynamite"], episodes=2)
