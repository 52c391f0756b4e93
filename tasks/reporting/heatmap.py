"""A labelled heatmap PNG drawn with matplotlib (sweeps: rows x columns of one metric), for an offline report."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from artifacts.images import png_bytes

NAN_FILL = (190, 190, 190)
_DPI = 100
_LONG_LABEL = 10  # characters: longer column labels are drawn rotated rather than overlapping


def _format(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4g}"


def _check(values: list[list[float]], row_labels: list[str], col_labels: list[str]) -> np.ndarray:
    if len(values) != len(row_labels) or any(len(row) != len(col_labels) for row in values):
        raise ValueError(f"heatmap: values must be {len(row_labels)} rows x {len(col_labels)} columns to match the labels")
    if not values or not col_labels:
        raise ValueError("heatmap: needs at least one row and one column")
    return np.array([[np.nan if v is None else float(v) for v in row] for row in values], dtype=np.float64)


def colour_range(finite: np.ndarray, noise: float | None) -> tuple[float, float]:
    """The colour scale's ends: the values' range, widened about its middle to at least `noise` (a CI width),
    so cells that differ by less than the noise look alike instead of spanning the whole scale."""
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    width = high - low
    if noise is not None and math.isfinite(noise) and noise > width:
        middle = (low + high) / 2
        return middle - noise / 2, middle + noise / 2
    if width <= 0:  # one value everywhere and no noise known: the middle of the scale, as a flat map has no direction
        return low - 0.5, high + 0.5
    return low, high


def grid_to_heatmap_png(values: list[list[float]], row_labels: list[str], col_labels: list[str], title: str,
                        row_axis: str = "", col_axis: str = "", noise: float | None = None) -> bytes:
    """A heatmap PNG: coloured cells with their value, row/column labels, title and a colour bar (NaN grey).

    `noise`: the typical 95% CI width of a cell; the colour scale spans at least that much (labelled on the bar)."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # the object API: no global pyplot state, no display needed

    grid = _check(values, row_labels, col_labels)
    rows, cols = grid.shape
    low, high = colour_range(grid[np.isfinite(grid)], noise)
    cmap = mpl.colormaps["viridis"].with_extremes(bad=tuple(c / 255 for c in NAN_FILL))
    fig = Figure(figsize=(2.2 + 0.9 * cols, 1.4 + 0.45 * rows), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # pcolormesh, not imshow: its cells are filled with the colour map's exact colours (imshow truncates them).
    mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap=cmap, vmin=low, vmax=high, edgecolors="white", linewidth=1)
    for (r, c), value in np.ndenumerate(grid):
        rgb = cmap(mesh.norm(value)) if math.isfinite(value) else cmap.get_bad()
        ink = "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 0.55 else "white"
        ax.text(c + 0.5, r + 0.5, _format(value), ha="center", va="center", color=ink, fontsize=9)
    ax.set_xticks(np.arange(cols) + 0.5, [str(c) for c in col_labels],
                  rotation=90 if max(len(str(c)) for c in col_labels) > _LONG_LABEL else 0)
    ax.set_yticks(np.arange(rows) + 0.5, [str(r) for r in row_labels])
    ax.invert_yaxis()  # the first row on top, as in the table beside it
    ax.set_xlabel(col_axis)
    ax.set_ylabel(row_axis)
    ax.set_title(title)
    bar = fig.colorbar(mesh, ax=ax)
    bar.formatter.set_useOffset(False)  # plain values, as in the cells
    if noise is not None and math.isfinite(noise):
        bar.set_label(f"scale spans ≥ median 95% CI width {noise:.3g}", fontsize=8)
    else:
        bar.set_label("no CI: colours span the values, which may differ by noise", fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
    return png_bytes(Image.open(buffer))
