"""Sweep summaries: the one grid of a metric over two swept settings (heatmaps and their tables), and mean ± sd
over seeds per remaining setting (read from the Variants)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from tasks.values.names import GROUP_ALL
from tasks.values.units import Variant


def swept_axes(variants: Sequence[Variant]) -> set[str]:
    """The settings whose value differs between the run's sweep cells."""
    values: dict[str, set] = {}
    for v in variants:
        for name, value in v.cell.items():
            values.setdefault(name, set()).add(repr(value))
    return {name for name, seen in values.items() if len(seen) > 1}


def seed_summary(metric_rows: list[dict], variants: Sequence[Variant]) -> list[dict]:
    """Mean and sample sd over seed cells for each (model, other swept settings, metric), group `all`."""
    by_variant = {v.variant_id: v for v in variants}
    buckets: dict[tuple, list[float]] = {}
    for row in metric_rows:
        variant = by_variant.get(row["model"])
        if row["group"] != GROUP_ALL or variant is None or "seeds" not in variant.cell:
            continue
        rest = tuple(sorted((k, v) for k, v in variant.cell.items() if k != "seeds"))
        buckets.setdefault((variant.model, rest, row["metric"]), []).append(row["value"])
    out = []
    for (model, rest, metric), values in buckets.items():
        arr = np.asarray(values, dtype=np.float64)
        out.append({"model": model, "setting": ", ".join(f"{k}={v}" for k, v in rest) or "–",
                    "metric": metric, "mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else float("nan"),
                    "n_seeds": int(arr.size)})
    return out


def ordered_values(values) -> list:
    """Setting values in their natural order (numbers by size, then names), each once."""
    return sorted(dict.fromkeys(values), key=lambda v: (isinstance(v, str), v if not isinstance(v, str) else 0, str(v)))


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def heatmap_grid(rows: list[dict], variants: Sequence[Variant], model: str, metric: str, axes: tuple[str, str]):
    """(grid, row values, column values, noise) of one model's metric (group `all`), mean over any other settings;
    noise: the median 95% CI width of its rows (None where they have no CI), the least a colour scale should span."""
    by_variant = {v.variant_id: v for v in variants if v.model == model}
    cells: dict[tuple, list[float]] = {}
    widths = []
    for r in rows:
        v = by_variant.get(r["model"])
        if v is not None and r["group"] == GROUP_ALL and r["metric"] == metric and _finite(r["value"]):
            cells.setdefault((v.cell.get(axes[0]), v.cell.get(axes[1])), []).append(r["value"])
            if _finite(r.get("ci_low")) and _finite(r.get("ci_high")):
                widths.append(r["ci_high"] - r["ci_low"])
    row_values, col_values = ordered_values(a for a, _ in cells), ordered_values(b for _, b in cells)
    grid = [[float(np.mean(cells[(a, b)])) if (a, b) in cells else math.nan for b in col_values] for a in row_values]
    return grid, row_values, col_values, float(np.median(widths)) if widths else None
