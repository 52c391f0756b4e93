"""Sweep summaries: each cell's values, and mean ± sd over seeds per remaining setting (read from the Variants)."""

from __future__ import annotations

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


def cell_grid(metric_rows: list[dict], variants: Sequence[Variant], model: str, metric: str, row_axis: str,
              col_axis: str) -> tuple[list[list[float]], list, list]:
    """A (row_axis × col_axis) grid of one model's metric over sweep cells (mean over any other axes)."""
    by_variant = {v.variant_id: v for v in variants if v.model == model}
    cells: dict[tuple, list[float]] = {}
    for row in metric_rows:
        v = by_variant.get(row["model"])
        if v is None or row["group"] != GROUP_ALL or row["metric"] != metric:
            continue
        cells.setdefault((getattr(v.settings, row_axis), getattr(v.settings, col_axis)), []).append(row["value"])
    rows = sorted({r for r, _ in cells})
    cols = sorted({c for _, c in cells})
    grid = [[float(np.mean(cells[(r, c)])) if (r, c) in cells else float("nan") for c in cols] for r in rows]
    return grid, rows, cols
