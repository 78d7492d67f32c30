"""``rllib-dynamite plot`` on Tune results directories written here and on their study
summaries (rllib_dynamite/plotting.py, ``rllib-dynamite summarize``).

The end-to-end run on a real training run is in tests/test_cli.py.
"""

import pytest

from rllib_dynamite.cli import main


@pytest.fixture
def study_parts(tmp_path, write_trial):
    """A study run in two parts: dynamite and varibad seeds 0-1 in the first (300 env
    steps), a longer rerun of dynamite seed 1 and a short varibad seed 2 in the second."""
    first, second = tmp_path / "first", tmp_path / "second"
    for seed in (0, 1):
        for preset, final in (("dynamite", 10.0 + seed), ("varibad", 5.0 + seed)):
            write_trial(first / f"{preset}_{seed}", preset=preset, seed=seed,
                        steps=[100, 200, 300], returns=[0.0, 1.0, 2.0],
                        evaluations={0: 1.0, 2: final})  # fmt: skip
    write_trial(second / "dynamite_1", preset="dynamite", seed=1, steps=[100, 200, 300, 400],
                returns=[0.0, 1.0, 2.0, 3.0], evaluations={1: 3.0, 3: 20.0})  # fmt: skip
    write_trial(second / "varibad_2", preset="varibad", seed=2, steps=[100], returns=[0.0])
    return first, second


def test_plot_merges_directories_and_writes_the_tables(study_parts, tmp_path, capsys):
    figure = tmp_path / "out" / "study.png"
    argv = ["plot", *map(str, study_parts), "--out", str(figure), "--threshold", "5"]
    assert main(argv) == 0
    assert figure.stat().st_size > 10_000
    tables = figure.with_suffix(".md").read_text()
    assert tables.strip() in capsys.readouterr().out
    # dynamite seed 1 is the 400-step rerun (20); varibad seed 2 has no evaluation.
    assert "| GridNavi-v0 | dynamite | 2 | 15.00 |" in tables
    assert "| evaluation | 300–400 |" in tables
    assert "| GridNavi-v0 | varibad | 3 | 3.67 |" in tables
    assert "| evaluation ×2, training ×1 | 100–300 |" in tables
    assert "| GridNavi-v0 | dynamite − varibad | 11.33 |" in tables
    assert "| GridNavi-v0 | varibad | 2 of 3 (1 not reached) | 300 |" in tables
    assert "dynamite seed=1 on GridNavi-v0 ran twice: kept" in tables


def test_plot_at_a_budget_leaves_out_short_runs(study_parts, tmp_path):
    figure = tmp_path / "budget.png"
    assert main(["plot", *map(str, study_parts), "--out", str(figure), "--at-steps", "250"]) == 0
    tables = figure.with_suffix(".md").read_text()
    assert "| GridNavi-v0 | dynamite | 2 | 2.00 |" in tables  # the rerun's evaluation at 200
    assert "| GridNavi-v0 | varibad | 2 | 1.00 |" in tables
    assert "varibad seed=2 on GridNavi-v0 left out: it stopped at 100 env steps" in tables


def test_plot_any_logged_column(study_parts, tmp_path):
    figure = tmp_path / "entropy.png"
    argv = ["plot", str(study_parts[0]), "--out", str(figure), "--metric",
            "learners/default_policy/entropy", "--kind", "ablation"]  # fmt: skip
    assert main(argv) == 0
    assert "| final learners/default_policy/entropy |" in figure.with_suffix(".md").read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--metric", "learners/default_policy/entropi"], "did you mean 'learners/default_"),
        (["--at-steps", "1e6"], "no trial ran 1,000,000 env steps"),
        (["--at-steps", "0"], "--at-steps must be > 0"),
        (["--kind", "ablation", "--reference", "rl2"], None),
    ],
    ids=["unknown-metric", "budget-too-long", "bad-budget", "no-reference-trials"],
)
def test_plot_bad_options_are_one_error_line(study_parts, tmp_path, capsys, extra, message):
    figure = tmp_path / "bad.png"
    status = main(["plot", str(study_parts[0]), "--out", str(figure), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    if message is None:  # not an error: said in the notes
        assert (
            status == 0 and "no rl2 trials: no differences" in figure.with_suffix(".md").read_text()
        )
        return
    assert status == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0]


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_plot_without_trials_is_one_error_line(tmp_path, capsys, make):
    if make == "empty":
        (tmp_path / make).mkdir()
    assert main(["plot", str(tmp_path / make), "--out", str(tmp_path / "x.png")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: no such results directory" if make == "missing" else
                           "error: no trial results")  # fmt: skip


def test_every_method_has_its_own_colour_across_envs():
    """A label repeated for every env (one panel each) keeps one colour, distinct from the
    others: six methods on four envs once gave dynamite and varibad the same red."""
    from rllib_dynamite.plotting import _colours

    methods = ["dynamite", "markov_ppo", "no_consistency", "oracle", "rl2", "varibad"]
    colours = _colours(methods * 4)
    assert len({colours[m] for m in methods}) == len(methods)


@pytest.mark.parametrize(
    "extra",
    [
        ["--threshold", "5"],
        ["--at-steps", "250", "--metric", "evaluation/episode_return_mean"],
        ["--kind", "p-sweep"],
    ],
    ids=["curves", "budget", "p-sweep"],
)
def test_plot_of_study_summaries_is_the_plot_of_their_directories(study_parts, tmp_path, extra):
    """`summarize` each directory, then `plot` the summaries: the same tables (paths
    aside) and the same figure, byte for byte."""
    summaries = []
    for directory in study_parts:
        summary = tmp_path / "summaries" / f"{directory.name}.parquet"
        assert main(["summarize", str(directory), "--out", str(summary), "--commit", "abc"]) == 0
        summaries.append(summary)
    from_dirs, from_summaries = tmp_path / "dirs.png", tmp_path / "summaries.png"
    assert main(["plot", *map(str, study_parts), "--out", str(from_dirs), *extra]) == 0
    assert main(["plot", *map(str, summaries), "--out", str(from_summaries), *extra]) == 0
    tables = from_summaries.with_suffix(".md").read_text()
    for summary in summaries:  # a summary's trial reads as SUMMARY/STUDY/TRIAL
        tables = tables.replace(str(summary), str(tmp_path))
    assert tables == from_dirs.with_suffix(".md").read_text()
    assert from_summaries.read_bytes() == from_dirs.read_bytes()


def test_summarize_without_trials_is_one_error_line(tmp_path, capsys):
    assert main(["summarize", str(tmp_path / "missing"), "--out", str(tmp_path / "x.parquet")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: no such results directory or study summary")


def test_plot_exclude_leaves_out_trials_that_set_a_value(tmp_path, write_trial, capsys):
    """Two doses of one preset beside a preset that sets neither: `--exclude` drops one
    dose and keeps the trials that left the setting to its default."""
    for seed in (0, 1):
        for weight, final in ((0.05, 1.0), (0.005, 9.0)):
            write_trial(tmp_path / f"dynamite_{weight}_{seed}", preset="dynamite", seed=seed,
                        steps=[100, 200], returns=[0.0, final],
                        settings={"consistency_weight": weight})  # fmt: skip
        write_trial(tmp_path / f"varibad_{seed}", preset="varibad", seed=seed, steps=[100, 200],
                    returns=[0.0, 4.0])  # fmt: skip
    figure = tmp_path / "out.png"
    argv = ["plot", str(tmp_path), "--out", str(figure), "--exclude", "consistency_weight=0.05"]
    assert main(argv) == 0
    tables = figure.with_suffix(".md").read_text()
    assert "| GridNavi-v0 | dynamite, consistency_weight=0.005 | 2 | 9.00 |" in tables
    assert "| GridNavi-v0 | varibad, consistency_weight=default | 2 | 4.00 |" in tables
    assert "consistency_weight=0.05 |" not in tables
    capsys.readouterr()
    assert main([*argv[:-1], "consistency_wieght=0.05"]) == 2
    assert "--exclude: unknown setting 'consistency_wieght'" in capsys.readouterr().err
