"""A study's files: trials read from Tune results directories and study summaries, and
the summaries written (rllib_dynamite/study_files.py)."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from rllib_dynamite.study_files import SUMMARY_COLUMNS, load_trials, write_summary


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_no_directory_or_no_trials_is_one_error(tmp_path, make):
    if make == "empty":
        (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no such results directory|no trial results"):
        load_trials(tmp_path / make)


def test_a_study_summary_reads_back_as_its_directories(tmp_path, write_trial):
    study = tmp_path / "study"
    write_trial(study / "dynamite_0", preset="dynamite", seed=0, steps=[100, 200, 300],
                returns=[1.0, 2.0, 3.0], evaluations={0: 5.0, 2: 7.0},
                settings={"env_config": {"p": 0.2}})  # fmt: skip
    write_trial(study / "varibad_1", preset="varibad", seed=1, steps=[100, 200], returns=[1, 2])
    summary = write_summary(load_trials(study), tmp_path / "study.parquet", commit="abc1234")
    for trial, read in zip(load_trials(study), load_trials(summary), strict=True):
        assert read.path == summary / "study" / trial.path.name
        assert read.config == trial.config
        kept = [c for c in trial.progress if c in SUMMARY_COLUMNS]
        assert list(read.progress) == kept
        pd.testing.assert_frame_equal(read.progress, trial.progress[kept].astype(float))
        pd.testing.assert_frame_equal(read.evaluations, trial.evaluations, check_dtype=False)
        assert read.evaluation_episode_returns == trial.evaluation_episode_returns
    # One row per iteration and per evaluation, each with its trial's identity.
    rows = pq.read_table(summary).to_pandas()
    assert rows.groupby(["preset", "record"]).size().to_dict() == {
        ("dynamite", "evaluation"): 2, ("dynamite", "iteration"): 3, ("varibad", "iteration"): 2,
    }  # fmt: skip
    dynamite = rows[rows["preset"] == "dynamite"].iloc[0]
    assert (dynamite["study"], dynamite["trial"], dynamite["trial_id"]) == (
        "study", "dynamite_0", "dynamite_0",
    )  # fmt: skip
    assert (dynamite["env"], dynamite["seed"], dynamite["commit"]) == (
        "rllib_dynamite/GridNavi-v0", 0, "abc1234",
    )  # fmt: skip
    assert json.loads(dynamite["params"])["settings/env_config/p"] == 0.2
    # A summary of trials without any evaluation reads back as one.
    (alone,) = load_trials(write_summary(load_trials(study / "varibad_1"), tmp_path / "v.parquet"))
    assert alone.evaluations.empty and alone.evaluation_episode_returns == []


def test_a_summary_keeps_the_curves_and_the_columns_asked_for(tmp_path, write_trial):
    write_trial(tmp_path / "run" / "t", preset="dynamite", seed=0, steps=[100, 200],
                returns=[1.0, 2.0], evaluations={1: 4.0})  # fmt: skip
    trials = load_trials(tmp_path / "run")
    schema = pq.read_schema(write_summary(trials, tmp_path / "plain.parquet"))
    assert "training_iteration" not in schema.names
    assert str(schema.field("env_runners/episode_return_mean").type) == "double"
    assert str(schema.field("evaluation/episode_return_mean").type) == "double"
    assert str(schema.field("learners/default_policy/entropy").type) == "float"
    wide = write_summary(trials, tmp_path / "wide.parquet", columns=["training_*"])
    (read,) = load_trials(wide)
    assert read.final("training_iteration") == 2.0


def test_a_summary_refuses_two_trials_of_one_name(tmp_path, write_trial):
    for root in ("a", "b"):
        write_trial(tmp_path / root / "study" / "t", preset="dynamite", seed=0, steps=[100],
                    returns=[1.0])  # fmt: skip
    trials = load_trials([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ValueError, match="two trials named study/t"):
        write_summary(trials, tmp_path / "both.parquet")


def test_a_parquet_file_that_is_not_a_summary_is_one_error(tmp_path):
    pd.DataFrame({"x": [1.0]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="is not a study summary: it has no column 'study'"):
        load_trials(tmp_path / "other.parquet")
    with pytest.raises(FileNotFoundError, match="no such results directory or study summary"):
        load_trials(tmp_path / "missing.parquet")
