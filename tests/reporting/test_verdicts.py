"""Paired verdicts: the CI decides, tolerance absolute or relative, set metrics by seed-level sd, shared conditions."""

import math

import numpy as np
import pytest

from tasks.values.names import CLIP_SCORE, FID, KID, KID_STD
from tasks.reporting.summary import verdict_markdown
from tasks.reporting.verdicts import (allowed_worsening, paired_change, rule_text, sample_verdicts, set_verdicts, shared_conditions,
                                     verdict_of, worst_change)
from tasks.metrics.aggregate import aggregate_samples
from tasks.metrics.stats import paired_difference


def _scores(values: dict, model="a", metric=CLIP_SCORE):
    return [{"variant": model, "metric": metric, "condition_id": c, "seed": s, "sample_index": 0, "value": v}
            for (c, s), v in values.items()]


BASE = {(f"p{i}", s): 30.0 + i + s for i in range(8) for s in (0, 1)}


def _groups(cond):
    return ["category:odd"] if int(cond[1:]) % 2 else []


def test_a_consistent_drop_regresses_per_group_and_noise_does_not():
    worse = {k: v - 2.0 for k, v in BASE.items()}
    rows = sample_verdicts(_scores(BASE), _scores(worse), _groups, {CLIP_SCORE: 0.5}, min_conditions=4)
    assert {(r["group"], r["verdict"], r["n"]) for r in rows} == {("all", "regressed", 8), ("category:odd", "regressed", 4)}
    assert all(math.isclose(r["change"], -2.0) and r["tolerance"] == 0.5 for r in rows)
    noisy = {k: v + (0.3 if i % 2 else -0.3) for i, (k, v) in enumerate(BASE.items())}
    assert {r["verdict"] for r in sample_verdicts(_scores(BASE), _scores(noisy), _groups, {}, min_conditions=4)} == {"unchanged"}
    better = {k: v + 1.0 for k, v in BASE.items()}
    assert {r["verdict"] for r in sample_verdicts(_scores(BASE), _scores(better), _groups, {}, min_conditions=4)} == {"improved"}


def test_relative_tolerance_scales_with_the_baseline():
    assert allowed_worsening({"relative": 0.1}, -40.0) == 4.0 and allowed_worsening(0.5, 100.0) == 0.5
    worse = {k: v - 2.0 for k, v in BASE.items()}  # about 6% of a CLIP score near 33
    assert {r["verdict"] for r in sample_verdicts(_scores(BASE), _scores(worse), _groups, {CLIP_SCORE: {"relative": 0.1}}, min_conditions=4)} == {"unchanged"}


def test_only_shared_conditions_are_compared():
    current = {k: v - 2.0 for k, v in BASE.items() if k[0] != "p0"}
    current[("new", 0)] = 0.0
    (row,) = [r for r in sample_verdicts(_scores(BASE), _scores(current), lambda c: [], {}) if r["group"] == "all"]
    assert row["n"] == 7 and math.isclose(row["change"], -2.0)
    assert shared_conditions([{"condition_id": c} for c, _ in BASE], [{"condition_id": c} for c, _ in current]) == {"shared": 7, "of": 8}


def test_set_metrics_use_the_seed_level_spread():
    def rows(kid, sd):
        return [{"model": "a", "metric": KID, "group": "all", "value": kid, "n": 2},
                {"model": "a", "metric": KID_STD, "group": "all", "value": sd, "n": 2},
                {"model": "a", "metric": FID, "group": "all", "value": kid * 100, "n": 2}]

    wide = {r["metric"]: r for r in set_verdicts(rows(0.010, 0.01), rows(0.020, 0.01), {FID: 0.5})}
    assert wide[KID]["verdict"] == "unchanged" and wide[FID]["verdict"] == "regressed"
    tight = {r["metric"]: r for r in set_verdicts(rows(0.010, 0.001), rows(0.020, 0.001), {})}
    assert tight[KID]["verdict"] == "regressed" and tight[KID]["ci_low"] > 0


def test_without_a_ci_only_an_explicit_tolerance_judges_the_point_estimate():
    nan = float("nan")
    assert verdict_of(-0.1, nan, nan, 0.0)[0] == "regressed" and verdict_of(-0.1, nan, nan, 0.2)[0] == "unchanged"
    assert verdict_of(-0.1, nan, nan, None) == ("not judged", "no CI and no tolerance set")
    # With a CI and no tolerance the rule is statistical: the whole CI below 0.
    assert verdict_of(-0.1, -0.3, -0.01, None)[0] == "regressed" and verdict_of(-0.1, -0.3, 0.05, None)[0] == "unchanged"


def test_groups_below_the_minimum_are_shown_not_judged():
    worse = {k: v - 2.0 for k, v in BASE.items()}
    rows = {r["group"]: r for r in sample_verdicts(_scores(BASE), _scores(worse), _groups, {})}  # default minimum 5
    assert rows["all"]["verdict"] == "regressed" and rows["all"]["n"] == 8
    odd = rows["category:odd"]
    assert odd["verdict"] == "not judged" and odd["why"] == "n < 5 conditions" and math.isclose(odd["change"], -2.0)
    # one condition per group, tolerance left at its default: the false alarm is gone
    one = sample_verdicts(_scores({("p0", 0): 30.0}), _scores({("p0", 0): 29.0}), lambda c: [], {}, min_conditions=1)
    assert one[0]["verdict"] == "not judged" and one[0]["why"] == "no CI and no tolerance set"


def test_noise_between_two_runs_raises_no_alarm():
    """Two runs that differ only by noise, 200 times over: the statistical rule alarms about as often as its level says."""
    import numpy as np

    rng = np.random.default_rng(1)
    alarms = 0
    for trial in range(200):
        base = {(f"p{i}", s): 30.0 + rng.normal(0, 1) for i in range(12) for s in (0, 1)}
        cur = {k: v + rng.normal(0, 1) for k, v in base.items()}
        rows = sample_verdicts(_scores(base), _scores(cur), lambda c: [], {}, resamples=1000, seed=trial)
        alarms += rows[0]["verdict"] == "regressed"
    assert alarms <= 10  # one-sided 2.5% would be 5 of 200


def test_the_expanded_interval_widens_on_few_conditions_and_not_on_many():
    from tasks.reporting.verdicts import expanded_level

    assert expanded_level(6) > 0.99 and 0.95 < expanded_level(200) < 0.953


def test_the_expanded_level_is_hesterbergs_formula_in_scipy_stats_terms():
    """Written with scipy.special (cheap to import); the same numbers as norm.cdf and t.ppf."""
    from scipy.stats import norm, t

    from tasks.reporting.verdicts import expanded_level

    for n in (2, 3, 6, 25, 1000):
        for level in (0.9, 0.95, 0.99):
            expected = 1.0 - 2.0 * norm.cdf(-np.sqrt(n / (n - 1)) * t.ppf(1.0 - (1.0 - level) / 2.0, n - 1))
            assert expanded_level(n, level) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_a_clamped_metric_is_judged_on_the_values_the_metrics_table_shows():
    """CLIP score's table value is max(mean, 0): two runs both below 0 show 0.0000 twice, and the verdict agrees."""
    base = {(f"p{i}", s): -17.0 - i for i in range(6) for s in (0, 1)}
    cur = {k: v - 3.0 for k, v in base.items()}
    (row,) = sample_verdicts(_scores(base), _scores(cur), lambda c: [], {}, clamped=frozenset({CLIP_SCORE}))
    table = aggregate_samples(_scores(base), CLIP_SCORE, lambda c: [], clamp=True)[0]
    assert row["previous"] == table["value"] == 0.0 and row["current"] == 0.0
    assert (row["change"], row["ci_low"], row["ci_high"], row["verdict"]) == (0.0, 0.0, 0.0, "unchanged")
    # Unclamped, the change and its CI are the paired comparison's (mean over conditions of the differences).
    unclamped = {k: v + 50.0 for k, v in base.items()}
    (row,) = sample_verdicts(_scores(unclamped), _scores({k: v - 1.5 for k, v in unclamped.items()}), lambda c: [], {},
                             clamped=frozenset({CLIP_SCORE}))
    table = aggregate_samples(_scores(unclamped), CLIP_SCORE, lambda c: [], clamp=True)[0]
    assert math.isclose(row["previous"], table["value"]) and math.isclose(row["change"], -1.5)


def test_paired_change_matches_the_paired_difference_without_a_clamp():
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 15), rng.normal(0, 1, 15)
    change, low, high = paired_change(a, b, clamp=False, resamples=2000, seed=3, expanded=False)
    ref = paired_difference({i: x for i, x in enumerate(a)}, {i: x for i, x in enumerate(b)}, lambda i: i, 2000, 3)
    assert math.isclose(change, ref["diff"]) and math.isclose(low, ref["ci_low"], abs_tol=1e-12)
    assert math.isclose(high, ref["ci_high"], abs_tol=1e-12)


def test_the_worst_change_and_the_rule_are_named():
    rows = [{"model": "a", "metric": CLIP_SCORE, "group": "all", "previous": 30.0, "change": -0.5, "ci_low": -1.0, "ci_high": 0.2,
             "verdict": "unchanged"},
            {"model": "a", "metric": CLIP_SCORE, "group": "x", "previous": 30.0, "change": -3.0, "ci_low": -5.0, "ci_high": -1.0,
             "verdict": "not judged"},
            {"model": "b", "metric": CLIP_SCORE, "group": "all", "previous": 30.0, "change": -0.2, "ci_low": -0.4, "ci_high": 0.0,
             "verdict": "unchanged"}]
    assert worst_change(rows)["model"] == "b"  # the one closest to regressing; a not-judged row never counts
    assert worst_change(rows[1:2]) is None
    text = rule_text(5, {CLIP_SCORE: 0.5, "fid": {"relative": 0.1}})
    assert "clip_score 0.5" in text and "fid 10% of the baseline" in text and "fewer than 5 conditions" in text


def test_markdown_names_values_tolerance_and_the_first_run():
    first = {"previous_run": None, "regressions": [], "verdict": "passed"}
    assert "first run" in verdict_markdown(first)[0] and "None" not in verdict_markdown(first)[0] and "no baseline" in verdict_markdown(first)[0]
    row = {"model": "a", "metric": CLIP_SCORE, "group": "all", "previous": 31.0, "current": 29.0, "change": -2.0,
           "ci_low": -2.5, "ci_high": -1.5, "tolerance": 0.5, "verdict": "regressed"}
    text = "\n".join(verdict_markdown({"previous_run": "r1", "baseline_why": "last passed run", "verdict": "regressed",
                                       "shared_conditions": {"shared": 3, "of": 4}, "regressions": [row]}))
    assert "3 shared of 4" in text and "| 31.0000 | 29.0000 | -2.0000 | [-2.5000, -1.5000] | 0.5000 |" in text
