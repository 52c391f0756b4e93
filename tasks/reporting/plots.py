"""The report's plots, drawn with matplotlib and embedded as base64 PNG so report.html stands alone offline.

Forest plots (each model's value and CI per group, one plot per metric), a metric against each swept
setting (steps, guidance, seeds, ...), and heatmaps of each metric over two swept settings. Every plot
reads metric rows and the run's Variants (their sweep cells), never labels.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Sequence

import numpy as np

from tasks.metrics.aggregate import group_order
from tasks.values.names import GROUP_ALL
from tasks.values.units import Variant
from tasks.reporting.heatmap import grid_to_heatmap_png
from tasks.reporting.sweeps import heatmap_grid, ordered_values
from tasks.reporting.plot_cache import kept

MAX_GROUPS = 25  # groups per forest plot: past that a plot stops being readable; the table below has them all
MAX_MARKERS = 100  # model x group markers per forest plot: many sweep variants show fewer groups
_DPI = 100
_WIDTH = 8.0  # inches: 800 px, inside a 1280 px page with its margins
HEATMAP_PAIRS = (("image_guidance_scale", "guidance_scale"), ("strength", "guidance_scale"), ("image_guidance_scale", "strength"))


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # the object API: no global pyplot state, no display needed

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def figure_to_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def png_to_img(png: bytes, alt: str) -> str:
    """An <img> whose bytes are in the page (a data: URI), so the report needs no file beside it."""
    data = base64.b64encode(png).decode("ascii")
    return f"<img class='plot' src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>"


def _label(direction: int) -> str:
    return {1: " (higher is better)", -1: " (lower is better)"}.get(direction, "")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _error_bar(row: dict) -> tuple[float, float]:
    """Distances from the value to its CI ends (0 where the row has no CI)."""
    if not (_finite(row.get("ci_low")) and _finite(row.get("ci_high"))):
        return 0.0, 0.0
    return max(row["value"] - row["ci_low"], 0.0), max(row["ci_high"] - row["value"], 0.0)


@kept
def forest_png(rows: list[dict], metric: str, direction: int) -> tuple[bytes, int]:
    """One metric's forest plot: a row of markers per group, one per model, with its CI as a bar.

    Returns the PNG and how many groups were left off (past MAX_GROUPS)."""
    mine = [r for r in rows if r["metric"] == metric and _finite(r.get("value"))]
    groups = sorted(dict.fromkeys(r["group"] for r in mine), key=group_order)
    models = list(dict.fromkeys(r["model"] for r in mine))
    keep = max(1, min(MAX_GROUPS, MAX_MARKERS // max(len(models), 1)))
    shown, cut = groups[:keep], max(len(groups) - keep, 0)
    step = 0.8 / max(len(models), 1)
    fig = _figure(_WIDTH, 0.9 + len(shown) * max(0.3, 0.12 * len(models)))
    ax = fig.add_subplot()
    for i, model in enumerate(models):
        picked = [(shown.index(r["group"]), r) for r in mine if r["model"] == model and r["group"] in shown]
        if not picked:
            continue
        y = np.array([g for g, _ in picked]) - 0.4 + step * (i + 0.5)
        bars = np.array([_error_bar(r) for _, r in picked]).T
        ax.errorbar([r["value"] for _, r in picked], y, xerr=bars, fmt="o", capsize=3, color=f"C{i % 10}", label=model)
    ax.set_yticks(range(len(shown)), shown)
    ax.set_ylim(len(shown) - 0.5, -0.5)  # the first group (all) on top, as in the tables
    ax.set_xlabel(metric + _label(direction))
    ax.grid(axis="x", alpha=0.3)
    ax.ticklabel_format(axis="x", useOffset=False)  # plain values (50.13), not an offset (+5.013e1) to add in one's head
    ax.set_title(f"{metric}: value and 95% CI per model and group" + (f" (first {keep} of {len(groups)} groups)" if cut else ""))
    if len(models) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # beside the plot: below, it hid the axis label
    return figure_to_png(fig), cut


@kept
def sweep_png(rows: list[dict], variants: Sequence[Variant], metric: str, axes: list[str], direction: int) -> bytes:
    """A metric (group `all`) against each swept setting: a panel per setting, each variant a point with
    its CI, and per model a line through the mean over the other settings."""
    by_variant = {v.variant_id: v for v in variants}
    mine = [(by_variant[r["model"]], r) for r in rows
            if r["metric"] == metric and r["group"] == GROUP_ALL and r["model"] in by_variant and _finite(r["value"])]
    columns = min(len(axes), 3)
    panels = math.ceil(len(axes) / columns)
    fig = _figure(_WIDTH, 0.4 + 2.8 * panels)
    models = list(dict.fromkeys(v.model for v, _ in mine))
    for k, axis in enumerate(axes):
        ax = fig.add_subplot(panels, columns, k + 1)
        values = ordered_values(v.cell.get(axis) for v, _ in mine if axis in v.cell)
        for i, model in enumerate(models):
            points = [(values.index(v.cell[axis]), r) for v, r in mine if v.model == model and axis in v.cell]
            if not points:
                continue
            shift = 0.06 * (i - (len(models) - 1) / 2)  # models side by side at one x, not on top of each other
            bars = np.array([_error_bar(r) for _, r in points]).T
            ax.errorbar([x + shift for x, _ in points], [r["value"] for _, r in points], yerr=bars, fmt="o", alpha=0.5,
                        capsize=2, color=f"C{i % 10}")
            means = [(x, float(np.mean([r["value"] for xx, r in points if xx == x]))) for x in sorted({x for x, _ in points})]
            ax.plot([x + shift for x, _ in means], [m for _, m in means], "-", color=f"C{i % 10}", label=model)
        ax.set_xticks(range(len(values)), [str(v) for v in values])
        ax.set_xlabel(axis)
        ax.set_ylabel(metric if k % columns == 0 else "")
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", useOffset=False)
    fig.suptitle(f"{metric}{_label(direction)} against each swept setting (points: variants with CI; line: mean per model)",
                 fontsize=10)
    fig.tight_layout()
    if len(models) > 1:  # beside the panels, never on the data
        fig.axes[columns - 1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure_to_png(fig)


def heatmap_axes(variants: Sequence[Variant], swept: list[str]) -> tuple[str, str] | None:
    """The two settings a heatmap spans: an edit run's guidance pair when swept, else the first two swept."""
    pair = next(((r, c) for r, c in HEATMAP_PAIRS if r in swept and c in swept), None)
    return pair or (tuple(swept[:2]) if len(swept) >= 2 else None)


def heatmap_pngs(rows: list[dict], variants: Sequence[Variant], metrics: list[str], axes: tuple[str, str]) -> list[tuple[str, bytes]]:
    """(title, PNG) per model and metric over the two settings `axes`."""
    out = []
    for model in dict.fromkeys(v.model for v in variants):
        for metric in metrics:
            grid, row_values, col_values, noise = heatmap_grid(rows, variants, model, metric, axes)
            if row_values and col_values:
                title = f"{model} · {metric}"
                out.append((title, grid_to_heatmap_png(grid, [str(v) for v in row_values], [str(v) for v in col_values],
                                                       title, axes[0], axes[1], noise)))
    return out
