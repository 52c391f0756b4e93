"""Paired verdicts: the CI decides, tolerance absolute or relative, set metrics by seed-level sd, shared conditions."""

import math

from tasks.values.names import CLIP_SCORE, FID, KID, KID_STD
from tasks.reporting.summary import verdict_markdown
from tasks.reporting.verdicts import allowed_worsening, sample_verdicts, set_verdicts, shared_conditions, verdict_of


def _scores(values: dict, model="a", metric=CLIP_SCORE):
    return [{"variant": model, "metric": metric, "condition_id": c, "seed": s, "sample_index": 0, "value": v}
            for (c, s), v in values.items()]


BASE = {(f"p{i}", s): 30.0 + i + s for i in range(8) for s in (0, 1)}


def _groups(cond):
    return ["category:odd"] if int(cond[1:]) % 2 else []


def test_a_consistent_drop_regresses_per_group_and_noise_does_not():
    worse = {k: v - 2.0 for k, v in BASE.items()}
    rows = sample_verdicts(_scores(BASE), _scores(worse), _groups, {CLIP_SCORE: 0.5})
    assert {(r["group"], r["verdict"], r["n"]) for r in rows} == {("all", "regressed", 8), ("category:odd", "regressed", 4)}
    assert all(math.isclose(r["change"], -2.0) and r["tolerance"] == 0.5 for r in rows)
    noisy = {k: v + (0.3 if i % 2 else -0.3) for i, (k, v) in enumerate(BASE.items())}
    assert {r["verdict"] for r in sample_verdicts(_scores(BASE), _scores(noisy), _groups, {})} == {"unchanged"}
    better = {k: v + 1.0 for k, v in BASE.items()}
    assert {r["verdict"] for r in sample_verdicts(_scores(BASE), _scores(better), _groups, {})} == {"improved"}


def test_relative_tolerance_scales_with_the_baseline():
    assert allowed_worsening({"relative": 0.1}, -40.0) == 4.0 and allowed_worsening(0.5, 100.0) == 0.5
    worse = {k: v - 2.0 for k, v in BASE.items()}  # about 6% of a CLIP score near 33
    assert {r["verdict"] for r in sample_verdicts(_scores(BASE), _scores(worse), _groups, {CLIP_SCORE: {"relative": 0.1}})} == {"unchanged"}


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


def test_verdict_of_uses_the_point_estimate_without_a_ci():
    nan = float("nan")
    assert verdict_of(-0.1, nan, nan, 0.0) == "regressed" and verdict_of(-0.1, nan, nan, 0.2) == "unchanged"


def test_markdown_names_values_tolerance_and_the_first_run():
    first = {"previous_run": None, "regressions": [], "verdict": "passed"}
    assert "first run" in verdict_markdown(first)[0] and "None" not in verdict_markdown(first)[0]
    row = {"model": "a", "metric": CLIP_SCORE, "group": "all", "previous": 31.0, "current": 29.0, "change": -2.0,
           "ci_low": -2.5, "ci_high": -1.5, "tolerance": 0.5, "verdict": "regressed"}
    text = "\n".join(verdict_markdown({"previous_run": "r1", "baseline_why": "last passed run", "verdict": "regressed",
                                       "shared_conditions": {"shared": 3, "of": 4}, "regressions": [row]}))
    assert "3 shared of 4" in text and "| 31.0000 | 29.0000 | -2.0000 | [-2.5000, -1.5000] | 0.5000 |" in text
