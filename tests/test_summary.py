"""Final returns, intervals and tables of a study (rllib_dynamite/summary.py)."""

import math

import pytest

from rllib_dynamite.study_files import load_trials, write_summary
from rllib_dynamite.summary import (
    FinalReturn,
    final_return,
    mean_interval,
    steps_to_reach,
    summary_tables,
    t_quantile,
    welch_interval,
)
from rllib_dynamite.trials import group_trials


@pytest.mark.parametrize(
    "dof, quantile",
    # Student t tables, two-sided 95%.
    [(1, 12.7062), (2, 4.3027), (4, 2.7764), (30, 2.0423), (1e9, 1.9600)],
)
def test_t_quantile_matches_the_table(dof, quantile):
    assert t_quantile(0.975, dof) == pytest.approx(quantile, abs=1e-4)


def test_mean_interval_by_hand():
    # mean 12, s = 2, n = 3: 12 ± t(0.975, 2) · 2 / √3 = 12 ± 4.9683.
    interval = mean_interval([10.0, 12.0, 14.0])
    assert (interval.mean, interval.dof) == (12.0, 2.0)
    assert interval.low == pytest.approx(12.0 - 4.9683, abs=1e-4)
    assert interval.high == pytest.approx(12.0 + 4.9683, abs=1e-4)
    one = mean_interval([3.0])
    assert one.mean == 3.0 and math.isnan(one.low) and math.isnan(one.high)


def test_welch_interval_by_hand():
    # Equal n and variance (s² = 4, n = 3): dof = 2(n − 1) = 4, se = √(8/3) = 1.63299,
    # half width t(0.975, 4) · se = 4.5339.
    interval = welch_interval([10.0, 12.0, 14.0], [5.0, 7.0, 9.0])
    assert interval.mean == 5.0 and interval.dof == pytest.approx(4.0)
    assert interval.low == pytest.approx(5.0 - 4.5339, abs=1e-4)
    assert interval.high == pytest.approx(5.0 + 4.5339, abs=1e-4)
    # Unequal variances (4 and 1): dof = (5/3)² / ((4/3)²/2 + (1/3)²/2) = 50/17.
    assert welch_interval([10.0, 12.0, 14.0], [5.0, 6.0, 7.0]).dof == pytest.approx(50 / 17)
    assert math.isnan(welch_interval([1.0], [2.0, 3.0]).low)


def test_final_return_and_steps_to_reach(tmp_path, write_trial):
    write_trial(tmp_path / "a", preset="dynamite", seed=0, steps=[100, 200, 300, 400],
                returns=[0.0, 1.0, 2.0, 3.0], evaluations={1: 4.0, 3: 6.0})  # fmt: skip
    (trial,) = load_trials(tmp_path)
    assert final_return(trial) == FinalReturn(6.0, 400.0, "evaluation")
    assert final_return(trial, at_steps=350) == FinalReturn(4.0, 200.0, "evaluation")
    assert steps_to_reach(trial, 5.0) == 400.0
    assert steps_to_reach(trial, 4.0) == 200.0
    assert steps_to_reach(trial, 5.0, at_steps=350) is None  # censored by the budget
    assert steps_to_reach(trial, 7.0) is None


@pytest.fixture
def study(tmp_path, write_trial):
    """dynamite reaches evaluation returns 10, 12, 14; varibad 5, 7, 9 (one never gets
    to 8); rl2 has one seed without evaluations."""
    steps = [100, 200, 300]
    for seed, final in enumerate((10.0, 12.0, 14.0)):
        write_trial(tmp_path / f"dynamite_{seed}", preset="dynamite", seed=seed, steps=steps,
                    returns=[0.0, 1.0, 2.0], evaluations={1: 8.0, 2: final})  # fmt: skip
    for seed, final in enumerate((5.0, 7.0, 9.0)):
        write_trial(tmp_path / f"varibad_{seed}", preset="varibad", seed=seed, steps=steps,
                    returns=[0.0, 1.0, 2.0], evaluations={2: final})  # fmt: skip
    write_trial(tmp_path / "rl2_0", preset="rl2", seed=0, steps=steps, returns=[0.0, 1.0, 3.0])
    return group_trials(load_trials(tmp_path))


def test_tables_of_final_return_differences_and_steps_to_reach(study):
    tables = summary_tables(study, threshold=8.0)
    lines = tables.splitlines()
    assert (
        "| GridNavi-v0 | dynamite | 3 | 12.00 | 2.00 | [7.03, 16.97] | evaluation | 300 |" in lines
    )
    assert "| GridNavi-v0 | varibad | 3 | 7.00 | 2.00 | [2.03, 11.97] | evaluation | 300 |" in lines
    assert "| GridNavi-v0 | rl2 | 1 | 3.00 | – | – | training | 300 |" in lines
    assert "| GridNavi-v0 | dynamite − varibad | 5.00 | [0.47, 9.53] | 4.0 |" in lines
    assert "| GridNavi-v0 | dynamite − rl2 | 9.00 | – | – |" in lines
    # Minutes: the fixture's trials take one minute per iteration.
    assert "| GridNavi-v0 | dynamite | 3 of 3 | 200 | [200, 200] | 2.0 |" in lines
    assert "| GridNavi-v0 | varibad | 1 of 3 (2 not reached) | 300 | – | 3.0 |" in lines
    assert "| GridNavi-v0 | rl2 | 0 of 1 (1 not reached) | not reached | – | – |" in lines


def test_tables_at_a_budget_and_against_another_reference(study):
    tables = summary_tables(study, at_steps=250, reference="varibad")
    assert "at or before 250 env steps" in tables
    # At 250 steps dynamite's last evaluation is 8 on every seed; varibad has none yet.
    assert (
        "| GridNavi-v0 | dynamite | 3 | 8.00 | 0.00 | [8.00, 8.00] | evaluation | 200 |" in tables
    )
    assert "| GridNavi-v0 | varibad | 3 | 1.00 | 0.00 | [1.00, 1.00] | training | 200 |" in tables
    assert "| GridNavi-v0 | varibad − dynamite | -7.00 | [-7.00, -7.00] | – |" in tables


def test_table_of_methods_by_env_when_a_study_spans_envs(tmp_path, write_trial):
    steps = [100, 200]
    for seed, final in enumerate((10.0, 14.0)):
        write_trial(tmp_path / f"grid_{seed}", preset="dynamite", seed=seed, steps=steps,
                    returns=[0.0, 1.0], evaluations={1: final})  # fmt: skip
    write_trial(tmp_path / "cheetah_dynamite", preset="dynamite", seed=0, steps=steps,
                returns=[-300.0, -250.0], env="rllib_dynamite/HalfCheetahVel-v0")  # fmt: skip
    write_trial(tmp_path / "cheetah_varibad", preset="varibad", seed=0, steps=steps,
                returns=[-300.0, -280.0], env="rllib_dynamite/HalfCheetahVel-v0")  # fmt: skip
    lines = summary_tables(group_trials(load_trials(tmp_path))).splitlines()
    header = next(line for line in lines if line.startswith("| method |"))
    assert header in (
        "| method | GridNavi-v0 | HalfCheetahVel-v0 |",
        "| method | HalfCheetahVel-v0 | GridNavi-v0 |",
    )
    cells = {"GridNavi-v0": "12.00 ± 2.83 (n=2)", "HalfCheetahVel-v0": "-250.00 (n=1)"}
    envs = header.strip("| ").split(" | ")[1:]
    assert "| dynamite | " + " | ".join(cells[env] for env in envs) + " |" in lines
    varibad = {"GridNavi-v0": "–", "HalfCheetahVel-v0": "-280.00 (n=1)"}
    assert "| varibad | " + " | ".join(varibad[env] for env in envs) + " |" in lines


def test_no_table_by_env_for_one_env(study):
    assert "Table 1" not in summary_tables(study)


def test_tables_of_a_study_summary_are_those_of_its_directory(tmp_path, write_trial):
    """Returns keep every digit in a summary (float64), so its tables are the
    directory's to the last character."""
    for seed, final in enumerate((10.123456789, 12.987654321, 14.5550000001)):
        write_trial(tmp_path / "study" / f"dynamite_{seed}", preset="dynamite", seed=seed,
                    steps=[100, 200, 300], returns=[0.1, 1.7, 2.3], evaluations={1: final / 2,
                    2: final})  # fmt: skip
        write_trial(tmp_path / "study" / f"varibad_{seed}", preset="varibad", seed=seed,
                    steps=[100, 200, 300], returns=[0.3, 1.1, final / 3])  # fmt: skip
    # 0.125000001 is 0.13 to two places, its float32 0.125 would read 0.12.
    write_trial(tmp_path / "study" / "rl2_0", preset="rl2", seed=0, steps=[100, 200, 300],
                returns=[0.0, 0.0, 0.0], evaluations={2: 0.125000001})  # fmt: skip
    trials = load_trials(tmp_path / "study")
    summary = write_summary(trials, tmp_path / "study.parquet")
    for at_steps in (250, None):
        expected = summary_tables(group_trials(trials), at_steps=at_steps, threshold=6.0)
        read = summary_tables(group_trials(load_trials(summary)), at_steps=at_steps, threshold=6.0)
        assert read == expected
    assert "| GridNavi-v0 | rl2 | 1 | 0.13 |" in read
