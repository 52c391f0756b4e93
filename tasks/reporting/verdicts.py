"""Paired verdicts of a run against its baseline: prompt by prompt and seed by seed on what both share.

Per model, metric and group: the paired difference (current − baseline) with its bootstrap CI over
conditions, turned into improved / unchanged / regressed by the spec's tolerance. A change counts only
when the whole CI lies past the tolerance, so noise between two nights does not raise an alert; with
no CI (one condition) the point estimate decides. Set metrics (FID, KID, IS) have one value per set:
their spread is the seed-level sd the run reports (kid_std, is_std), FID's none.
"""

from __future__ import annotations

import math

import numpy as np

from tasks.values.names import (CLIP_CONSISTENCY, CLIP_DIRECTIONAL, CLIP_SCORE, CMMD, FD_DINOV2, FID, GROUP_ALL, HPSV2, IS, IS_STD, KID,
                         KID_STD, PICKSCORE)
from tasks.metrics.stats import paired_difference

HIGHER_IS_BETTER = {CLIP_SCORE, CLIP_DIRECTIONAL, CLIP_CONSISTENCY, IS, PICKSCORE, HPSV2}
LOWER_IS_BETTER = {FID, KID, FD_DINOV2, CMMD}
SET_SPREAD = {KID: KID_STD, IS: IS_STD, FID: None, FD_DINOV2: None, CMMD: None}
IMPROVED, UNCHANGED, REGRESSED = "improved", "unchanged", "regressed"
Z95 = 1.959963984540054


def allowed_worsening(tolerance, baseline_value: float) -> float:
    """The tolerance in the metric's units: a number is absolute, {relative: r} is r × |baseline|."""
    if tolerance is None:
        return 0.0
    relative = tolerance.get("relative") if isinstance(tolerance, dict) else getattr(tolerance, "relative", None)
    return float(relative) * abs(baseline_value) if relative is not None else float(tolerance)


def verdict_of(gain: float, low: float, high: float, allowed: float) -> str:
    """`gain` is the change signed so that positive is better, [low, high] its CI (NaN: none)."""
    if math.isnan(gain):
        return UNCHANGED
    low, high = (gain, gain) if math.isnan(low) else (low, high)
    if high < -allowed:
        return REGRESSED
    if low > max(allowed, 0.0):
        return IMPROVED
    return UNCHANGED


def _row(model, metric, group, base, cur, diff, low, high, n, tolerance) -> dict:
    sign = 1 if metric in HIGHER_IS_BETTER else -1
    allowed = allowed_worsening(tolerance, base)
    gain_low, gain_high = sorted((sign * low, sign * high))
    return {"model": model, "metric": metric, "group": group, "previous": base, "current": cur, "change": diff,
            "ci_low": low, "ci_high": high, "n": n, "tolerance": allowed,
            "verdict": verdict_of(sign * diff, gain_low, gain_high, allowed)}


def sample_verdicts(baseline: list[dict], current: list[dict], groups_of, tolerance: dict, resamples: int = 1000,
                    seed: int = 0) -> list[dict]:
    """Verdicts of per-sample metrics (rows of the runs' scores tables) on the samples both runs have."""
    def by_sample(rows, model, metric):
        return {(r["condition_id"], r["seed"], r["sample_index"]): r["value"] for r in rows
                if r["variant"] == model and r["metric"] == metric}

    out = []
    for model, metric in dict.fromkeys((r["variant"], r["metric"]) for r in current):
        if metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
            continue
        cur, base = by_sample(current, model, metric), by_sample(baseline, model, metric)
        members: dict[str, set] = {GROUP_ALL: {s[0] for s in cur}}
        for cond in members[GROUP_ALL]:
            for group in groups_of(cond):
                members.setdefault(group, set()).add(cond)
        for group, conds in members.items():
            a = {s: v for s, v in cur.items() if s[0] in conds}
            b = {s: v for s, v in base.items() if s[0] in conds}
            shared = [s for s in a if s in b]
            if not shared:
                continue
            d = paired_difference(a, b, lambda s: s[0], resamples, seed)
            out.append(_row(model, metric, group, float(np.mean([b[s] for s in shared])), float(np.mean([a[s] for s in shared])),
                            d["diff"], d["ci_low"], d["ci_high"], d["n"], tolerance.get(metric)))
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
