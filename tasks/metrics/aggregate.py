"""Per-sample scores → metric rows (per model and group, with bootstrap CIs) and paired comparisons."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from tasks.metrics.stats import bootstrap_mean_ci, group_means, paired_difference
from tasks.values.names import GROUP_ALL
from tasks.values.units import Variant
# Breakdowns after `all`: PartiPrompts' challenges, then categories, then any other kind (classes).
GROUP_KIND_RANK = {"challenge": 1, "category": 2}


def _sample_id(sample: dict) -> tuple:
    return (sample["condition_id"], sample["seed"], sample["sample_index"])


def aggregate_samples(samples: list[dict], metric: str, groups_of: Callable[[str], list[str]],
                      resamples: int = 1000, seed: int = 0, clamp: bool = False) -> list[dict]:
    """One row per (variant, group): mean over conditions of the per-condition means, CI over conditions.

    `samples` hold variant, condition_id, seed, sample_index and value for one metric;
    `groups_of(condition_id)` names the groups a condition belongs to besides `all`; `clamp` reports
    max(value, 0), as torchmetrics reports CLIP score (the metric's `clamped-mean` aggregation).
    """
    fix = (lambda x: max(x, 0.0)) if clamp else (lambda x: x)
    rows = []
    for variant in dict.fromkeys(s["variant"] for s in samples):
        mine = [s for s in samples if s["variant"] == variant]
        units, means = group_means([s["condition_id"] for s in mine], np.array([s["value"] for s in mine]))
        members: dict[str, list[int]] = {GROUP_ALL: list(range(len(units)))}
        for i, unit in enumerate(units):
            for group in groups_of(unit):
                members.setdefault(group, []).append(i)
        images = Counter(s["condition_id"] for s in mine)
        for group, idx in members.items():
            values = means[idx]
            low, high = bootstrap_mean_ci(values, resamples, seed)
            rows.append({"model": variant, "metric": metric, "group": group, "value": fix(float(values.mean())),
                         "ci_low": fix(low), "ci_high": fix(high), "n": len(idx),
                         "n_images": sum(images[units[j]] for j in idx)})
    return rows


def group_order(group: str) -> tuple:
    """Sort key: `all`, then challenges, then categories, then other groups by kind; each alphabetical."""
    if group == GROUP_ALL:
        return (0, "", "", "")
    kind, _, name = group.partition(":")
    rank = GROUP_KIND_RANK.get(kind, 3)
    return (rank, kind if rank == 3 else "", name.casefold(), name)


def order_groups(rows: list[dict]) -> list[dict]:
    """Metric rows with each (model, metric)'s groups in `group_order`; models and metrics keep their order."""
    first: dict[tuple, int] = {}
    for row in rows:
        first.setdefault((row["model"], row["metric"]), len(first))
    return sorted(rows, key=lambda r: (first[(r["model"], r["metric"])], group_order(r["group"])))


def comparison_pairs(variants: Sequence[Variant]) -> list[tuple[str, str]]:
    """Every pair of variants of different models in the same sweep cell, in spec order."""
    return [(a.variant_id, b.variant_id) for a, b in itertools.combinations(variants, 2) if a.model != b.model and a.cell == b.cell]


def compare_samples(samples: list[dict], metric: str, pairs: list[tuple[str, str]], resamples: int = 1000, seed: int = 0) -> list[dict]:
    """Paired differences a - b on the conditions, seeds and samples both variants have."""
    by_variant: dict[str, dict] = {}
    for s in samples:
        by_variant.setdefault(s["variant"], {})[_sample_id(s)] = s["value"]
    rows = []
    for a, b in pairs:
        result = paired_difference(by_variant.get(a, {}), by_variant.get(b, {}), lambda sid: sid[0], resamples, seed)
        rows.append({"a": a, "b": b, "metric": metric, **result})
    return rows
