"""Paired verdicts of a run against its baseline: prompt by prompt and seed by seed on what both share.

Per model, metric and group: the change (current − baseline) of the value the metrics table shows, with
a paired bootstrap CI over conditions, turned into improved / unchanged / regressed by RULE below.
Per-sample metrics are compared on the samples both runs have, through the same aggregation as the
metrics table (per condition the mean over seeds and samples, then the mean over conditions, clamped
at 0 for CLIP score), so a verdict never disagrees with the numbers beside it. Set metrics (FID, KID,
IS) have one value per set: their spread is the seed-level sd the run reports (kid_std, is_std), FID's
none.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from tasks.values.metric import direction
from tasks.values.names import FD_DINOV2, FID, GROUP_ALL, IS, IS_STD, KID, KID_STD, CMMD

SET_SPREAD = {KID: KID_STD, IS: IS_STD, FID: None, FD_DINOV2: None, CMMD: None}
IMPROVED, UNCHANGED, REGRESSED, NOT_JUDGED = "improved", "unchanged", "regressed", "not judged"
Z95 = 1.959963984540054
# Below 5 conditions even a change of one sign on every condition happens by chance more than 1 time
# in 20 (2 x 2^-4): a percentile bootstrap CI over so few units claims more than it knows.
DEFAULT_MIN_CONDITIONS = 5


def _tolerance_text(tolerance) -> str:
    relative = tolerance.get("relative") if isinstance(tolerance, dict) else getattr(tolerance, "relative", None)
    return f"{float(relative):.0%} of the baseline" if relative is not None else f"{float(tolerance):g}"


def rule_text(min_conditions: int, tolerance: dict) -> str:
    """The rule the verdicts follow, in one sentence, as the report, the summary and --json state it."""
    told = ", ".join(f"{metric} {_tolerance_text(t)}" for metric, t in tolerance.items())
    limit = f"below −tolerance ({told}), else below 0" if told else "below 0 (no regression.tolerance set)"
    return (f"A change is a regression only when its whole 95% paired bootstrap CI over conditions lies {limit}; "
            f"an improvement when it lies wholly above; else unchanged. Groups with fewer than {min_conditions} "
            f"conditions (metrics.min_group_conditions) are shown, not judged; the CI is the expanded percentile "
            f"bootstrap (Hesterberg), which keeps its 95% on few conditions; a change with no CI (FID, a single "
            f"condition) is judged by its value only against a tolerance the spec sets.")


def allowed_worsening(tolerance, baseline_value: float) -> float | None:
    """The tolerance in the metric's units: a number is absolute, {relative: r} is r × |baseline|; None: not set."""
    if tolerance is None:
        return None
    relative = tolerance.get("relative") if isinstance(tolerance, dict) else getattr(tolerance, "relative", None)
    return float(relative) * abs(baseline_value) if relative is not None else float(tolerance)


def verdict_of(gain: float, low: float, high: float, allowed: float | None) -> tuple[str, str]:
    """(verdict, why) of a change `gain` signed so that positive is better, [low, high] its CI (NaN: none).

    `allowed`: the tolerance in the metric's units, None when the spec sets none.
    """
    if math.isnan(gain):
        return NOT_JUDGED, "no value on one side"
    if math.isnan(low):
        if allowed is None:
            return NOT_JUDGED, "no CI and no tolerance set"
        low = high = gain
    limit = allowed or 0.0
    if high < -limit:
        return REGRESSED, f"whole CI below {-limit:.4g}"
    if low > limit:
        return IMPROVED, f"whole CI above {limit:.4g}"
    return UNCHANGED, f"CI reaches {-limit:.4g}" if limit else "CI includes 0"


def _row(model, metric, group, base, cur, diff, low, high, n, tolerance, too_few: int | None = None) -> dict:
    sign = direction(metric) or 1
    allowed = allowed_worsening(tolerance, base)
    gain_low, gain_high = sorted((sign * low, sign * high))
    if too_few is not None:
        verdict, why = NOT_JUDGED, f"n < {too_few} conditions"
    else:
        verdict, why = verdict_of(sign * diff, gain_low, gain_high, allowed)
    return {"model": model, "metric": metric, "group": group, "previous": base, "current": cur, "change": diff,
            "ci_low": low, "ci_high": high, "n": n, "tolerance": math.nan if allowed is None else allowed,
            "verdict": verdict, "why": why}


def expanded_level(n: int, level: float = 0.95) -> float:
    """The percentile level that widens a bootstrap CI over n units to the coverage a t interval has.

    The percentile bootstrap is too narrow on few units (its variance is the plug-in one, n − 1 / n of
    the unbiased one, and it uses normal, not t, tails): on 6 conditions a 95% interval excluded 0 in
    8.5% of 200 pure-noise pairs of runs instead of 5%. Hesterberg's expanded percentile interval
    ("What teachers should know about the bootstrap", 2015) takes the percentiles at
    Φ(√(n / (n − 1)) · t_{n−1}) instead of at the nominal level.
    """
    # scipy.special's ndtr (Φ) and stdtrit (the t quantile) are what scipy.stats' norm.cdf and t.ppf
    # call; importing scipy.stats costs 0.45 s per process, most of a warm re-run's own work.
    from scipy.special import ndtr, stdtrit

    tail = (1.0 - level) / 2.0
    if n < 2:
        return level
    return float(1.0 - 2.0 * ndtr(-np.sqrt(n / (n - 1)) * stdtrit(n - 1, 1.0 - tail)))


def paired_change(current: np.ndarray, baseline: np.ndarray, clamp: bool, resamples: int = 1000, seed: int = 0,
                  level: float = 0.95, expanded: bool = True) -> tuple[float, float, float]:
    """(change, ci_low, ci_high) of f(mean current) − f(mean baseline), f = max(·, 0) when `clamp`, else identity.

    `current` and `baseline` hold one value per condition (the same conditions, in the same order); the
    percentile bootstrap resamples conditions, both runs together, `expanded` for few conditions
    (expanded_level). NaN CI for fewer than 2 conditions.
    """
    fix = (lambda x: np.maximum(x, 0.0)) if clamp else (lambda x: x)
    a, b = np.asarray(current, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    change = float(fix(a.mean()) - fix(b.mean()))
    if a.size < 2:
        return change, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, a.size, size=(resamples, a.size))
    changes = fix(a[idx].mean(axis=1)) - fix(b[idx].mean(axis=1))
    tail = (1.0 - (expanded_level(a.size, level) if expanded else level)) / 2.0 * 100.0
    low, high = np.percentile(changes, [tail, 100.0 - tail])
    return change, float(low), float(high)


def _condition_means(values: dict, shared: list) -> dict:
    """Per condition the mean of its shared samples (seeds, sample indices), conditions in first-seen order."""
    sums: dict = {}
    for s in shared:
        total, count = sums.get(s[0], (0.0, 0))
        sums[s[0]] = (total + values[s], count + 1)
    return {c: total / count for c, (total, count) in sums.items()}


def sample_verdicts(baseline: list[dict], current: list[dict], groups_of: Callable[[str], list[str]], tolerance: dict,
                    resamples: int = 1000, seed: int = 0, min_conditions: int = DEFAULT_MIN_CONDITIONS,
                    clamped: frozenset = frozenset()) -> list[dict]:
    """Verdicts of per-sample metrics (rows of the runs' scores tables) on the samples both runs have.

    `clamped`: metrics whose table value is max(mean, 0) (CLIP score): their change is taken the same way.
    """
    def by_sample(rows, model, metric):
        return {(r["condition_id"], r["seed"], r["sample_index"]): r["value"] for r in rows
                if r["variant"] == model and r["metric"] == metric}

    out = []
    for model, metric in dict.fromkeys((r["variant"], r["metric"]) for r in current):
        if direction(metric) == 0:
            continue
        cur, base = by_sample(current, model, metric), by_sample(baseline, model, metric)
        shared = [s for s in cur if s in base]
        a, b = _condition_means(cur, shared), _condition_means(base, shared)
        members: dict[str, list] = {GROUP_ALL: list(a)}
        for cond in a:
            for group in groups_of(cond):
                members.setdefault(group, []).append(cond)
        for group, conds in members.items():
            if not conds:
                continue
            cur_units, base_units = np.array([a[c] for c in conds]), np.array([b[c] for c in conds])
            fix = (lambda x: max(x, 0.0)) if metric in clamped else (lambda x: x)
            change, low, high = paired_change(cur_units, base_units, metric in clamped, resamples, seed)
            out.append(_row(model, metric, group, fix(float(base_units.mean())), fix(float(cur_units.mean())), change, low,
                            high, len(conds), tolerance.get(metric), min_conditions if len(conds) < min_conditions else None))
    return out


def set_verdicts(baseline: list[dict], current: list[dict], tolerance: dict) -> list[dict]:
    """Verdicts of set metrics from their metric rows: CI of the difference from the seed-level sd."""
    def index(rows):
        return {(r["model"], r["metric"], r["group"]): r for r in rows}

    before, now = index(baseline), index(current)
    out = []
    for (model, metric, group), row in now.items():
        old = before.get((model, metric, group))
        if metric not in SET_SPREAD or old is None or math.isnan(row["value"]) or math.isnan(old["value"]):
            continue
        spread = SET_SPREAD[metric]
        sds = [r.get((model, spread, group), {}).get("value", math.nan) if spread else math.nan for r in (before, now)]
        half = Z95 * math.sqrt(sds[0] ** 2 + sds[1] ** 2)
        diff = row["value"] - old["value"]
        out.append(_row(model, metric, group, old["value"], row["value"], diff, diff - half, diff + half, row.get("n"),
                        tolerance.get(metric)))
    return out


def shared_conditions(baseline: list[dict], current: list[dict]) -> dict:
    """How many of the current run's conditions the baseline also has (only those are compared)."""
    mine = {r["condition_id"] for r in current}
    return {"shared": len(mine & {r["condition_id"] for r in baseline}), "of": len(mine)}


def worst_change(verdicts: list[dict]) -> dict | None:
    """The judged row that got most worse (by the better end of its CI, signed so that negative is worse):
    the regressed row that is surest, else the row closest to regressing; None when nothing was judged."""
    judged = [v for v in verdicts if v["verdict"] != NOT_JUDGED]
    if not judged:
        return None

    def rank(v):
        sign = direction(v["metric"]) or 1
        ends = [sign * v["ci_low"], sign * v["ci_high"]]
        best_end = max(ends) if not any(math.isnan(e) for e in ends) else sign * v["change"]
        scale = abs(v["previous"]) or 1.0
        return (v["verdict"] != REGRESSED, best_end / scale)

    return min(judged, key=rank)
