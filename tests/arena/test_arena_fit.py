"""The arena's Luce fit against choix and a plain scipy MLE, its bootstrap, Kendall's τ and the boards."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import kendalltau

from tasks.arena.fit import ALPHA, ELO_SCALE, bootstrap_strengths, fit_ratings, fit_strengths, votes_to_design
from tasks.arena.leaderboard import board, kendall_tau, leaderboards, pools

TRUTH = np.array([1.0, 0.5, 0.0, -0.5, -1.0])
MODELS = [f"m{i}" for i in range(len(TRUTH))]


def synthetic_votes(n: int, seed: int = 1, tie_rate: float = 0.0) -> list[tuple[list[str], str | None]]:
    """Best-of-four votes drawn from the Luce model with strengths TRUTH (a share of them ties)."""
    rng = np.random.default_rng(seed)
    votes = []
    for _ in range(n):
        shown = rng.choice(len(TRUTH), size=4, replace=False)
        p = np.exp(TRUTH[shown]) / np.exp(TRUTH[shown]).sum()
        winner = None if rng.random() < tie_rate else MODELS[rng.choice(shown, p=p)]
        votes.append(([MODELS[i] for i in shown], winner))
    return votes


def test_fit_agrees_with_choix_and_recovers_known_strengths():
    choix = pytest.importorskip("choix", reason="choix not installed (pip install -e '.[test]')")
    votes = synthetic_votes(1000)
    theta = fit_strengths(*votes_to_design(votes, MODELS))[0]
    data = [(MODELS.index(w), [MODELS.index(m) for m in shown if m != w]) for shown, w in votes]
    reference = choix.opt_top1(len(MODELS), data, alpha=ALPHA)
    assert np.allclose(theta, reference - reference.mean(), atol=1e-4)
    assert list(np.argsort(-theta)) == list(range(len(TRUTH)))
    assert np.abs(theta - TRUTH).max() < 0.25


def test_ties_follow_the_stated_rule_checked_by_a_plain_scipy_mle():
    """A tie is a 1/|S| share of a win for each shown model: the same optimum as a loop-by-loop likelihood."""
    votes = synthetic_votes(200, seed=3, tie_rate=0.3)
    plain = [([MODELS.index(m) for m in shown], winner and MODELS.index(winner)) for shown, winner in votes]

    def negative_log_posterior(theta):
        total = ALPHA * theta @ theta
        for idx, winner in plain:
            log_norm = np.log(np.exp(theta[idx]).sum())
            credited = [winner] if winner is not None else idx
            for i in credited:
                total -= (theta[i] - log_norm) / len(credited)
        return total

    direct = minimize(negative_log_posterior, np.zeros(len(MODELS)), method="BFGS", options={"gtol": 1e-8}).x
    theta = fit_strengths(*votes_to_design(votes, MODELS))[0]
    assert np.allclose(theta, direct - direct.mean(), atol=1e-4)


def test_only_ties_give_equal_ratings_and_a_model_that_never_wins_stays_finite():
    tied = [(MODELS[:4], None), (MODELS[1:], None)] * 10
    assert np.allclose(fit_strengths(*votes_to_design(tied, MODELS))[0], 0.0, atol=1e-6)
    never = [(MODELS[:4], "m0")] * 30
    theta = fit_strengths(*votes_to_design(never, MODELS[:4]))[0]
    assert np.all(np.isfinite(theta)) and theta.argmax() == 0 and np.allclose(theta[1:], theta[1])


def test_fit_does_not_depend_on_vote_or_model_order():
    votes = synthetic_votes(300, seed=5, tie_rate=0.1)
    theta = fit_strengths(*votes_to_design(votes, MODELS))[0]
    shuffled = [votes[i] for i in np.random.default_rng(0).permutation(len(votes))]
    reordered = MODELS[::-1]
    again = fit_strengths(*votes_to_design(shuffled, reordered))[0][::-1]
    assert np.allclose(theta, again, atol=1e-6)


def test_bootstrap_resamples_whole_votes_and_its_interval_covers_the_truth():
    votes = synthetic_votes(2000, seed=7)
    shown, wins = votes_to_design(votes, MODELS)
    point, draws, ci = fit_ratings(shown, wins, resamples=300, seed=0)
    assert draws.shape == (300, len(MODELS)) and np.all(ci[0] <= point) and np.all(point <= ci[1])
    truth = 1000 + ELO_SCALE * TRUTH
    assert np.sum((ci[0] <= truth) & (truth <= ci[1])) >= 4
    small = fit_ratings(*votes_to_design(votes[:200], MODELS), resamples=300, seed=0)[2]
    assert np.all(small[1] - small[0] > ci[1] - ci[0])  # fewer votes, wider intervals
    # One stacked optimisation solves each resample as if alone.
    few = bootstrap_strengths(shown[:100], wins[:100], resamples=3, seed=4)
    assert few.shape == (3, len(MODELS)) and not np.allclose(few[0], few[1])


@pytest.mark.parametrize("x, y", [([1, 2, 3, 4], [1, 3, 2, 4]), ([1, 1, 2, 3], [3, 2, 2, 1]), ([5, 4, 3], [1, 2, 3])])
def test_kendall_tau_is_scipys_tau_b(x, y):
    assert kendall_tau(np.array(x, dtype=float), np.array(y, dtype=float))[0] == pytest.approx(kendalltau(x, y).statistic)


def _vote(i, models, winner, choice="best", groups=("category:A",)):
    return {"vote_id": f"v{i:08d}", "models": models, "winner_model": winner, "choice": choice, "groups": list(groups)}


def test_boards_show_past_the_minimum_count_skips_and_state_ties():
    votes = [_vote(i, ["a", "b", "c"], "a") for i in range(12)] + [_vote(100 + i, ["a", "b"], None, "tie", ("category:B",)) for i in range(3)]
    votes += [_vote(200, ["a", "b"], None, "skip")]
    result = leaderboards(votes, min_votes=10, resamples=50, metrics={"a": {"clip_score": 30.0}, "b": {"clip_score": 20.0}, "c": {"clip_score": 25.0}},
                          directions={"clip_score": 1})
    assert (result["votes"], result["picks"], result["ties"], result["skips"]) == (16, 12, 3, 1)
    overall, group_a, group_b = result["boards"]
    assert (overall["group"], overall["n"], overall["shown"]) == ("all", 15, True)
    assert (group_a["group"], group_a["shown"], group_b["group"], group_b["n"], group_b["shown"]) == ("category:A", True, "category:B", 3, False)
    assert [r["model"] for r in overall["rows"]] == ["a", "b", "c"]  # b's tie shares lift it over c, which never won
    a = overall["rows"][0]
    assert (a["wins"], a["ties"], a["shown"], a["clip_score"]) == (12, 3, 15, 30.0)
    (tau,) = result["agreement"]
    assert tau["metric"] == "clip_score" and tau["models"] == 3 and -1 <= tau["ci_low"] <= tau["tau"] <= tau["ci_high"] <= 1
    assert "tie" in result["note"]


def test_a_board_needs_two_models():
    assert board([_vote(0, ["a", "b"], "a")], resamples=10)[0][0]["model"] == "a"
    assert board([], resamples=10)[0] == []


def test_models_never_shown_together_are_ranked_only_within_their_pool():
    votes = [_vote(i, ["a", "b"], "a") for i in range(3)] + [_vote(10 + i, ["x", "y", "z"], "z") for i in range(4)]
    assert pools(votes) == {"a": 1, "b": 1, "x": 2, "y": 2, "z": 2}
    result = leaderboards(votes, min_votes=3, resamples=10, metrics={m: {"clip_score": float(i)} for i, m in enumerate("abxyz")},
                          directions={"clip_score": 1})
    overall = [b for b in result["boards"] if b["group"] == "all"]
    assert [(b["pool"], b["pools"], b["models"], b["n"]) for b in overall] == [(1, 2, ["a", "b"], 3), (2, 2, ["x", "y", "z"], 4)]
    assert [[(r["rank"], r["model"]) for r in b["rows"]] for b in overall] == [[(1, "a"), (2, "b")], [(1, "z"), (2, "x"), (3, "y")]]
    alone = board(votes[3:], resamples=10)[0]
    assert [(r["model"], r["rating"]) for r in overall[1]["rows"]] == [(r["model"], r["rating"]) for r in alone]  # fitted apart
    assert [(t["pool"], t["models"]) for t in result["agreement"]] == [(1, 2), (2, 3)]
    assert "pool" in result["note"] and "pool" not in leaderboards(votes[:3], min_votes=1, resamples=10)["boards"][0]
    (group,) = [b for b in result["boards"] if b["group"] == "category:A" and b.get("pool") == 1]
    assert group["n"] == 3 and group["shown"]


def test_a_pool_below_the_minimum_is_not_shown():
    votes = [_vote(i, ["a", "b"], "a") for i in range(2)] + [_vote(10 + i, ["x", "y"], "x") for i in range(5)]
    overall = [b for b in leaderboards(votes, min_votes=3, resamples=10)["boards"] if b["group"] == "all"]
    assert [(b["pool"], b["n"], b["shown"]) for b in overall] == [(1, 2, False), (2, 5, True)]


def test_kendall_tau_counts_only_pairs_within_a_pool():
    ratings, metric = np.array([3.0, 2.0, 1.0, 0.0]), np.array([1.0, 0.0, 5.0, 4.0])
    # Within each pool ({0, 1} and {2, 3}) the metric orders as people do; across pools it does not.
    assert kendall_tau(ratings, metric, np.array([1, 1, 2, 2]))[0] == pytest.approx(1.0)
    assert kendall_tau(ratings, metric)[0] == pytest.approx(kendalltau(ratings, metric).statistic) == pytest.approx(-1 / 3)
