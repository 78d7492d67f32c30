"""Experiment files that moved when ``tune_configs/`` was split by purpose.

``tune_configs/`` holds ``paper/`` (paper-scale budgets, for a cluster), ``local/`` (one
file per env at the budgets 2 CPUs run), ``calibration/``, ``studies/`` and
``examples/`` (docs/configs.md). An old path given to ``rllib-dynamite tune`` fails with
one line naming the new one.
"""

from __future__ import annotations

from pathlib import Path

CONFIGS_DIR = "tune_configs"

# Old file name (directly under tune_configs/) -> new path under tune_configs/.
RENAMED: dict[str, str] = {
    "gridnavi.yaml": "paper/gridnavi.yaml",
    "halfcheetah_vel.yaml": "paper/halfcheetah_vel.yaml",
    "reacher.yaml": "paper/reacher.yaml",
    "scratch_itch.yaml": "paper/scratch_itch.yaml",
    "halfcheetah_vel_p_sweep.yaml": "paper/halfcheetah_vel_p_sweep.yaml",
    "gridnavi_long.yaml": "local/gridnavi.yaml",
    "paper_gridnavi.yaml": "local/paper_gridnavi.yaml",
    "halfcheetah_vel_local.yaml": "local/halfcheetah_vel.yaml",
    "reacher_local.yaml": "local/reacher.yaml",
    "scratch_itch_local.yaml": "local/scratch_itch.yaml",
    "calibration_gridnavi.yaml": "calibration/gridnavi.yaml",
    "calibration_two_goal_gridnavi.yaml": "calibration/two_goal_gridnavi.yaml",
    "calibration_paper_gridnavi.yaml": "calibration/paper_gridnavi.yaml",
    "calibration_halfcheetah_vel.yaml": "calibration/halfcheetah_vel.yaml",
    "calibration_reacher.yaml": "calibration/reacher.yaml",
    "calibration_scratch_itch.yaml": "calibration/scratch_itch.yaml",
    "gridnavi_long_ablations.yaml": "studies/gridnavi_ablations.yaml",
    "gridnavi_long_consistency_mean.yaml": "studies/gridnavi_consistency_mean.yaml",
    "gridnavi_local.yaml": "studies/gridnavi_300k.yaml",
    "gridnavi_consistency.yaml": "studies/gridnavi_300k_consistency.yaml",
    "paper_gridnavi_ablations.yaml": "studies/paper_gridnavi_ablations.yaml",
    "paper_gridnavi_consistency_mean.yaml": "studies/paper_gridnavi_consistency_mean.yaml",
    "paper_gridnavi_long.yaml": "studies/paper_gridnavi_1m.yaml",
    "halfcheetah_vel_consistency_local.yaml": "studies/halfcheetah_vel_consistency.yaml",
    "halfcheetah_vel_long_local.yaml": "studies/halfcheetah_vel_1200k.yaml",
    "halfcheetah_vel_p_sweep_local.yaml": "studies/halfcheetah_vel_p_sweep.yaml",
    "reacher_consistency_local.yaml": "studies/reacher_consistency.yaml",
    "scratch_itch_consistency_local.yaml": "studies/scratch_itch_consistency.yaml",
    "smoke.yaml": "examples/smoke.yaml",
    "gridnavi_short.yaml": "examples/gridnavi_demo.yaml",
}


def renamed_to(path: Path) -> Path | None:
    """The new path of the missing experiment file ``path`` if it has an old name, in a
    ``tune_configs`` directory (``tune_configs/gridnavi_long.yaml``) or bare
    (``gridnavi_long.yaml``, relative to the working directory); None otherwise."""
    new = RENAMED.get(path.name)
    if new is None:
        return None
    if path.parent.name == CONFIGS_DIR:
        return path.parent / new
    if path.parent == Path():
        return Path(new) if Path.cwd().name == CONFIGS_DIR else Path(CONFIGS_DIR, new)
    return None
