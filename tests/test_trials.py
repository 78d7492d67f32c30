"""Trials of a study merged and grouped (rllib_dynamite/trials.py)."""

import pytest

from rllib_dynamite.config import ConfigError
from rllib_dynamite.envs import env_defaults
from rllib_dynamite.study_files import load_trials
from rllib_dynamite.trials import group_trials, merge_trials


def test_a_trial_reads_its_progress_evaluations_and_episode_returns(tmp_path, write_trial):
    write_trial(tmp_path / "a", preset="dynamite", seed=0, steps=[100, 200, 300],
                returns=[1.0, 2.0, 3.0], evaluations={0: 5.0, 2: 7.0})  # fmt: skip
    (trial,) = load_trials(tmp_path)
    assert trial.last_step == 300
    assert trial.final("learners/default_policy/entropy") == pytest.approx(1 / 3)
    assert trial.final("evaluation/episode_return_mean") == 7.0
    assert trial.final("env_runners/episode_return_mean", at_steps=250) == 2.0
    assert trial.episode_returns() == [6.0, 8.0]
    assert trial.episode_returns(at_steps=250) == [4.0, 6.0]


def test_the_return_curve_is_the_evaluation_where_there_is_one(tmp_path, write_trial):
    write_trial(tmp_path / "evaluated", preset="dynamite", seed=0, steps=[100, 200, 300],
                returns=[1.0, 2.0, 3.0], evaluations={1: 9.0})  # fmt: skip
    write_trial(tmp_path / "trained", preset="dynamite", seed=1, steps=[100, 200],
                returns=[1.0, 2.0])  # fmt: skip
    evaluated, trained = load_trials(tmp_path)
    curve, source = evaluated.return_series()
    assert source == "evaluation" and curve["return"].tolist() == [9.0]
    # Before its first evaluation, a trial is read from its training return.
    curve, source = evaluated.return_series(at_steps=150)
    assert source == "training" and curve["return"].tolist() == [1.0]
    curve, source = trained.return_series()
    assert source == "training" and curve["return"].tolist() == [1.0, 2.0]


def test_directories_merge_and_the_longer_run_of_a_seed_is_kept(tmp_path, write_trial):
    first, second = tmp_path / "part1", tmp_path / "part2"
    write_trial(first / "dynamite_0", preset="dynamite", seed=0, steps=[100, 200], returns=[1, 2])
    write_trial(first / "varibad_0", preset="varibad", seed=0, steps=[100, 200], returns=[1, 2])
    write_trial(second / "dynamite_0", preset="dynamite", seed=0, steps=[100, 200, 300],
                returns=[1, 2, 3])  # fmt: skip
    write_trial(second / "dynamite_1", preset="dynamite", seed=1, steps=[100], returns=[1])
    # A directory given twice (here nested) is read once.
    trials, notes = merge_trials(load_trials([first, second, second / "dynamite_1"]))
    assert sorted((t.config["preset"], t.config["settings/seed"], t.last_step) for t in trials) == [
        ("dynamite", 0, 300), ("dynamite", 1, 100), ("varibad", 0, 200),
    ]  # fmt: skip
    (note,) = notes
    assert "dynamite seed=0 on GridNavi-v0 ran twice" in note
    assert f"kept {second / 'dynamite_0'} (300 env steps)" in note
    assert f"dropped {first / 'dynamite_0'} (200)" in note


@pytest.mark.parametrize("as_summaries", [False, True])
def test_of_two_runs_as_long_the_later_is_kept(tmp_path, write_trial, as_summaries):
    """A re-run of the same configuration and seed (after a default changed) supersedes
    the earlier one whichever is named first, from directories or from summaries."""
    from rllib_dynamite.study_files import write_summary

    early, late = tmp_path / "early", tmp_path / "late"
    write_trial(early / "dynamite_0", preset="dynamite", seed=0, steps=[100, 200],
                returns=[1, 2], date="2026-12-06_08-00-00")  # fmt: skip
    write_trial(late / "dynamite_0", preset="dynamite", seed=0, steps=[100, 200],
                returns=[5, 6], date="2026-12-07_09-00-00")  # fmt: skip
    sources = [early, late]
    if as_summaries:
        sources = [write_summary(load_trials(d), tmp_path / f"{d.name}.parquet") for d in sources]
    for order in (sources, sources[::-1]):
        (kept,), (note,) = merge_trials(load_trials(order))
        assert kept.started == "2026-12-07T09:00:00"
        assert kept.final("env_runners/episode_return_mean") == 6
        assert "ran twice" in note


def test_groups_tell_apart_settings_but_not_seeds_or_budgets(tmp_path, write_trial):
    for seed, p, steps in ((0, 0.1, [100]), (1, 0.1, [100, 200]), (0, 0.2, [100])):
        write_trial(tmp_path / f"t{seed}{p}", preset="dynamite", seed=seed, steps=steps,
                    returns=[0.0] * len(steps), settings={"env_config": {"p": p}})  # fmt: skip
    (by_label,) = group_trials(load_trials(tmp_path)).values()
    assert {label: len(trials) for label, trials in by_label.items()} == {
        "dynamite, p=0.1": 2,
        "dynamite, p=0.2": 1,
    }


def test_groups_come_by_preset_then_by_setting_value(tmp_path, write_trial):
    """A p-sweep's table reads p = 0, 0.005, 0.05, 1 whatever order its directories
    were read in; numbers sort by value, not as text."""
    for index, (preset, p) in enumerate(
        [("varibad", 1.0), ("dynamite", 0.05), ("dynamite", 1.0), ("varibad", 0.0),
         ("dynamite", 0.005), ("dynamite", 0.0)]
    ):  # fmt: skip
        write_trial(tmp_path / f"t{index}", preset=preset, seed=0, steps=[100], returns=[0.0],
                    settings={"env_config": {"p": p}})  # fmt: skip
    (by_label,) = group_trials(load_trials(tmp_path)).values()
    assert list(by_label) == [
        "varibad, p=0.0", "varibad, p=1.0",
        "dynamite, p=0.0", "dynamite, p=0.005", "dynamite, p=0.05", "dynamite, p=1.0",
    ]  # fmt: skip


def test_a_setting_left_to_its_default_is_labelled_default(tmp_path, write_trial):
    write_trial(tmp_path / "mean", preset="dynamite", seed=0, steps=[100], returns=[0.0],
                settings={"consistency_reduction": "mean"})  # fmt: skip
    write_trial(tmp_path / "plain", preset="dynamite", seed=0, steps=[100], returns=[0.0])
    (by_label,) = group_trials(load_trials(tmp_path)).values()
    assert sorted(by_label) == [
        "dynamite, consistency_reduction=default",
        "dynamite, consistency_reduction=mean",
    ]


def test_settings_named_same_do_not_split_groups(tmp_path, write_trial):
    """A file that set normalize_observations and one that ran under the default it
    became: one group when the user says the setting is the same, two otherwise."""
    reacher = "rllib_dynamite/Reacher-v0"
    write_trial(tmp_path / "set", preset="oracle", seed=1, steps=[100], returns=[0.0],
                settings={"normalize_observations": True}, env=reacher)  # fmt: skip
    write_trial(tmp_path / "left", preset="oracle", seed=0, steps=[100], returns=[0.0], env=reacher)
    (split,) = group_trials(load_trials(tmp_path)).values()
    assert sorted(split) == [
        "oracle, normalize_observations=True",
        "oracle, normalize_observations=default",
    ]
    (merged,) = group_trials(load_trials(tmp_path), same=["normalize_observations"]).values()
    assert {label: len(trials) for label, trials in merged.items()} == {"oracle": 2}
    with pytest.raises(ConfigError, match="unknown setting 'normalise_observations'"):
        group_trials(load_trials(tmp_path), same=["normalise_observations"])


def test_an_env_argument_left_out_reads_as_the_env_default(tmp_path, write_trial):
    """A run that left p at GridNavi's default and one that set it to that value
    are one group; labels vary per env, so a second env keeps its plain preset."""
    default_p = env_defaults("rllib_dynamite/GridNavi-v0")["p"]
    write_trial(tmp_path / "left", preset="dynamite", seed=0, steps=[100], returns=[0.0])
    write_trial(tmp_path / "set", preset="dynamite", seed=1, steps=[100], returns=[0.0],
                settings={"env_config": {"p": default_p}})  # fmt: skip
    write_trial(tmp_path / "other", preset="dynamite", seed=2, steps=[100], returns=[0.0],
                settings={"env_config": {"p": 0.5}})  # fmt: skip
    write_trial(tmp_path / "reacher", preset="dynamite", seed=0, steps=[100], returns=[0.0],
                env="rllib_dynamite/Reacher-v0")  # fmt: skip
    groups = group_trials(load_trials(tmp_path))
    assert {label: len(t) for label, t in groups["rllib_dynamite/GridNavi-v0"].items()} == {
        f"dynamite, p={default_p}": 2,
        "dynamite, p=0.5": 1,
    }
    assert list(groups["rllib_dynamite/Reacher-v0"]) == ["dynamite"]
