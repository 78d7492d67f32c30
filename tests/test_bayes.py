"""The Bayes-optimal policy of the two-goal gridworlds: exact, and true to the real env."""

import numpy as np
import pytest

from rllib_dynamite.analysis.references import belief_returns, print_references
from rllib_dynamite.cli import main
from rllib_dynamite.envs import make
from rllib_dynamite.evaluation import bayes

PAPER_GRID = "rllib_dynamite/PaperGridNavi-v0"
CHEETAH = "rllib_dynamite/HalfCheetahVel-v0"


def _fixed_policy(env, cell):
    """``walk_to(cell)`` as a :class:`bayes.BayesPolicy` (it ignores the belief)."""
    return bayes.fixed_cell_policy(env, cell)


def test_the_belief_relaxes_at_the_documented_switch_rate():
    env = make(PAPER_GRID)
    assert bayes.move_probability(env) == pytest.approx(0.07 * 0.8)
    policy = bayes.solve(env)
    assert policy.belief_same(0) == 1.0
    assert policy.belief_same(8) == pytest.approx(0.5 + 0.5 * (1 - 2 * 0.056) ** 8)


@pytest.mark.parametrize("env_id", [PAPER_GRID, "rllib_dynamite/TwoGoalGridNavi-v0"])
def test_exact_returns_match_the_real_env(env_id):
    env = make(env_id)
    for policy in (bayes.solve(env), _fixed_policy(env, (4, 0))):
        exact = bayes.expected_return(env, policy)
        sampled = bayes.rollout_returns(env, policy, episodes=300, seed=0)
        # 300 episodes: the standard error is about 0.7.
        assert abs(sampled.mean() - exact) < 4 * sampled.std() / np.sqrt(len(sampled))


def test_the_bayes_optimal_policy_beats_every_memoryless_one_and_acts_on_what_it_saw():
    env = make(PAPER_GRID)
    policy = bayes.solve(env)
    best = bayes.expected_return(env, policy)
    for cell in ((4, 0), (0, 4)):
        assert best > bayes.expected_return(env, _fixed_policy(env, cell)) + 2.0
    # On goal (4, 0) that paid 0 (goal 1 is active), it leaves; had it paid 1, it stays.
    assert policy.action[10, 4, 0, 1, 1] != 0
    assert policy.action[10, 4, 0, 0, 1] == 0
    # A discounted stationary optimum is no better than the finite-horizon one.
    assert bayes.expected_return(env, bayes.solve(env, 0.95, stationary=True)) <= best + 1e-9


def test_only_two_goal_gridworlds_are_solved():
    with pytest.raises(ValueError, match="two-goal gridworlds only"):
        bayes.solve(make("rllib_dynamite/GridNavi-v0"))
    with pytest.raises(ValueError, match="gamma in"):
        bayes.solve(make(PAPER_GRID), gamma=1.0, stationary=True)


def test_goal_search_is_a_belief_policy_near_the_bound():
    # On the two-goal gridworld it comes within 1.5 of the exact bound; on the 21-goal
    # one it is far above the best memoryless return (about -2.9).
    paper = make(PAPER_GRID)
    search = bayes.belief_rollout_returns(paper, bayes.GoalSearch(paper), episodes=200, seed=0)
    assert abs(search.mean() - bayes.expected_return(paper, bayes.solve(paper))) < 1.5
    grid = make("rllib_dynamite/GridNavi-v0")
    search = bayes.belief_rollout_returns(grid, bayes.GoalSearch(grid), episodes=100, seed=0)
    assert search.mean() > 20.0


def test_goal_transitions_are_stochastic_and_match_the_two_goal_rate():
    for env_id in (PAPER_GRID, "rllib_dynamite/GridNavi-v0"):
        transitions = bayes.goal_transitions(make(env_id))
        assert np.allclose(transitions.sum(1), 1.0)
    two_goal = bayes.goal_transitions(make(PAPER_GRID))
    assert two_goal[0, 1] == pytest.approx(bayes.move_probability(make(PAPER_GRID)))


def test_belief_bounds_prints_every_reference(capsys):
    assert main(["diagnose", "bounds", "--episodes", "20", "--env", PAPER_GRID]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "PaperGridNavi-v0"
    assert (
        row[5].strip()
        == f"{bayes.expected_return(make(PAPER_GRID), bayes.solve(make(PAPER_GRID))):.2f}"
    )
    assert main(["diagnose", "bounds", "--episodes", "2", "--env", CHEETAH]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: bounds are computed for GridNavi ids, not {CHEETAH}"
    ]


def test_the_reference_line_names_scripted_and_belief_references(capsys):
    assert print_references(make(PAPER_GRID), episodes=5, seed=0, trained={"dynamite": 1.0})
    line = capsys.readouterr().out.strip()
    assert line.startswith("greedy evaluation, the same 5 episodes for each: dynamite 1.00 | ")
    names = [part.rsplit(" ", 1)[0] for part in line.split(": ", 1)[1].split(" | ")]
    assert names == ["dynamite", "scripted random", "scripted memoryless", "scripted oracle",
                     "belief goal search", "belief Bayes-optimal"]  # fmt: skip
    beliefs = belief_returns(make(PAPER_GRID), episodes=5, seed=0)
    assert f"belief goal search {beliefs['goal search']:.2f}" in line


def test_belief_returns_name_the_exact_optimum_only_where_it_is_solved():
    two_goal = belief_returns(make(PAPER_GRID), episodes=5, seed=0)
    assert set(two_goal) == {"goal search", "goal search s.e.", "Bayes-optimal"}
    assert two_goal["Bayes-optimal"] == pytest.approx(31.24, abs=0.01)
    search_only = belief_returns(make("rllib_dynamite/GridNavi-v0"), 5)
    assert set(search_only) == {"goal search", "goal search s.e."}
    with pytest.raises(ValueError):
        belief_returns(make("rllib_dynamite/Reacher-v0"), 1)
