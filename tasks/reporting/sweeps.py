"""Sweep summaries: each cell's values, and mean ± sd over seeds per remaining setting."""

from __future__ import annotations

import json

import numpy as np

from tasks.names import GROUP_ALL


def seed_summary(metric_rows: list[dict], variants: list[dict]) -> list[dict]:
    """Mean and sample sd over seed cells for each (model, other swept settings, metric), group `all`."""
    by_variant = {v["variant"]: v for v in variants}
    buckets: dict[tuple, list[float]] = {}
    for row in metric_rows:
        variant = by_variant.get(row["model"])
        if row["group"] != GROUP_ALL or variant is None or "seeds" not in variant["cell"]:
            continue
        rest = {k: v for k, v in variant["cell"].items() if k != "seeds"}
        buckets.setdefault((variant["model"], json.dumps(rest, sort_keys=True), row["metric"]), []).append(row["value"])
    out = []
    for (model, rest, metric), values in buckets.items():
        arr = np.asarray(values, dtype=np.float64)
        out.append({"model": model, "setting": ", ".join(f"{k}={v}" for k, v in json.loads(rest).items()) or "–",
                    "metric": metric, "mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else float("nan"),
                    "n_seeds": int(arr.size)})
    return out


def cell_grid(metric_rows: list[dict], variants: list[dict], model: str, metric: str, row_axis: str, col_axis: str) -> tuple[list[list[float]], list, list]:
    """A (row_axis × col_axis) grid of one model's metric over sweep cells (mean over any other axes)."""
    by_variant = {v["variant"]: v for v in variants if v["model"] == model}
    cells: dict[tuple, list[float]] = {}
    for row in metric_rows:
        v = by_variant.get(row["model"])
        if v is None or row["group"] != GROUP_ALL or row["metric"] != metric:
            continue
        cells.setdefault((v["gen"].model_dump()[row_axis], v["gen"].model_dump()[col_axis]), []).append(row["value"])
    rows = sorted({r for r, _ in cells})
    cols = sorted({c for _, c in cells})
    grid = [[float(np.mean(cells[(r, c)])) if (r, c) in cells else float("nan") for c in cols] for r in rows]
    return grid, rows, cols
