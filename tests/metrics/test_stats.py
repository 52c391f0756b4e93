"""Bootstrap CIs and paired comparisons against hand computations."""

import numpy as np

from tasks.metrics.aggregate import aggregate_samples, compare_samples
from tasks.metrics.clip_score import METRIC as CLIP_SCORE_METRIC
from tasks.metrics.stats import bootstrap_mean_ci, group_means, paired_difference


def test_bootstrap_matches_a_plain_loop_and_is_seeded():
    values = np.array([30.0, 31.5, 29.0, 35.0, 33.0])
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 5, size=(2000, 5))
    means = np.array([values[row].mean() for row in idx])
    expected = np.percentile(means, [2.5, 97.5])
    assert np.allclose(bootstrap_mean_ci(values, 2000, 3), expected, atol=1e-12)
    assert bootstrap_mean_ci(values, 2000, 3) == bootstrap_mean_ci(values, 2000, 3)
    low, high = bootstrap_mean_ci(values, 2000, 3)
    assert low <= values.mean() <= high


def test_group_means_by_hand():
    units, means = group_means(["p", "q", "p"], np.array([1.0, 5.0, 3.0]))
    assert units == ["p", "q"] and np.allclose(means, [2.0, 5.0])


def test_paired_difference_by_hand():
    a = {("p", 0, 0): 3.0, ("p", 1, 0): 1.0, ("q", 0, 0): 2.0, ("r", 0, 0): 9.0}
    b = {("p", 0, 0): 1.0, ("p", 1, 0): 1.0, ("q", 0, 0): 4.0}
    out = paired_difference(a, b, lambda s: s[0], resamples=1000, seed=0)
    # per prompt: p → mean(2, 0) = 1, q → -2; r has no partner and is left out
    assert out["n"] == 2 and np.isclose(out["diff"], -0.5)
    assert np.isclose(out["win_rate"], (1 + 0.5 + 0) / 3)
    assert out["ci_low"] <= out["diff"] <= out["ci_high"]


def _samples(variant, values):
    return [{"variant": variant, "condition_id": c, "seed": s, "sample_index": 0, "value": v} for (c, s), v in values.items()]


def test_aggregate_is_mean_of_prompt_means_and_clip_score_clamps_at_zero():
    samples = _samples("m", {("p", 0): 10.0, ("p", 1): 20.0, ("q", 0): 40.0, ("q", 1): 40.0})
    rows = aggregate_samples(samples, "clip_score", lambda c: ["challenge:Basic"] if c == "p" else [])
    by_group = {r["group"]: r for r in rows}
    assert np.isclose(by_group["all"]["value"], 27.5) and by_group["all"]["n"] == 2 and by_group["all"]["n_images"] == 4
    assert np.isclose(by_group["challenge:Basic"]["value"], 15.0) and by_group["challenge:Basic"]["n"] == 1
    negative = aggregate_samples(_samples("m", {("p", 0): -5.0, ("q", 0): -1.0}), "clip_score", lambda c: [], clamp=True)
    assert negative[0]["value"] == 0.0 and CLIP_SCORE_METRIC.aggregate == "clamped-mean"  # the stage clamps what the registry says
    raw = aggregate_samples(_samples("m", {("p", 0): -5.0, ("q", 0): -1.0}), "clip_directional_similarity", lambda c: [])
    assert np.isclose(raw[0]["value"], -3.0)


def test_compare_samples_pairs_on_matched_samples():
    samples = _samples("a", {("p", 0): 2.0, ("q", 0): 4.0}) + _samples("b", {("p", 0): 1.0, ("q", 0): 1.0})
    (row,) = compare_samples(samples, "clip_score", [("a", "b")])
    assert row["a"] == "a" and np.isclose(row["diff"], 2.0) and row["win_rate"] == 1.0 and row["n"] == 2
