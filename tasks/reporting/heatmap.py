"""A labelled heatmap PNG drawn with PIL alone (sweeps: rows x columns of one metric)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

# Viridis at five stops: perceptually even and readable in greyscale print.
_STOPS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
_NAN_FILL = (190, 190, 190)
_PAD = 8
_LEGEND_W = 16
_LEGEND_MIN_H = 40


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _color(t: float) -> tuple[int, int, int]:
    """Colour at position t in [0, 1] of the scale."""
    t = min(max(t, 0.0), 1.0) * (len(_STOPS) - 1)
    i = min(int(t), len(_STOPS) - 2)
    f = t - i
    return tuple(round(a + (b - a) * f) for a, b in zip(_STOPS[i], _STOPS[i + 1]))


def _text_size(font, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text or " ")
    return right - left, bottom - top


def _format(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4g}"


def _ink(fill: tuple[int, int, int]) -> str:
    # Dark text on light cells, white on dark ones (relative luminance).
    return "black" if 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] > 140 else "white"


def _centered(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str, font, fill) -> None:
    draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), text, font=font, fill=fill, anchor="mm")


def _check(values: list[list[float]], row_labels: list[str], col_labels: list[str]) -> list[list[float]]:
    if len(values) != len(row_labels) or any(len(row) != len(col_labels) for row in values):
        raise ValueError(f"heatmap: values must be {len(row_labels)} rows x {len(col_labels)} columns to match the labels")
    if not values or not col_labels:
        raise ValueError("heatmap: needs at least one row and one column")
    return [[float("nan") if v is None else float(v) for v in row] for row in values]


@dataclass(frozen=True)
class _Layout:
    cell_w: int
    cell_h: int
    label_w: int
    title_h: int
    grid_y: int
    legend_x: int
    vertical: bool
    width: int
    height: int


def _layout(texts: list[str], row_labels: list[str], col_labels: list[str], title: str, row_axis: str, col_axis: str,
            legend_texts: list[str], font, bold) -> _Layout:
    """Pixel geometry sized to the longest text in each place."""
    cell_w = max(56, *(_text_size(font, t)[0] + 2 * _PAD for t in texts))
    cell_h = max(28, _text_size(font, "0")[1] + 2 * _PAD)
    col_label_w = max(_text_size(font, str(c))[0] for c in col_labels)
    vertical = col_label_w + _PAD > cell_w  # long column labels are drawn rotated rather than clipped
    head_h = (col_label_w if vertical else _text_size(font, "Ag")[1]) + 2 * _PAD
    label_w = max(_text_size(font, str(r))[0] for r in [*row_labels, row_axis]) + 2 * _PAD
    title_h = _text_size(bold, title)[1] + 3 * _PAD
    grid_y = title_h + (_text_size(font, "Ag")[1] + _PAD if col_axis else 0) + head_h
    legend_x = label_w + cell_w * len(col_labels) + 2 * _PAD
    legend_w = _LEGEND_W + _PAD + max(_text_size(font, t)[0] for t in legend_texts) + _PAD
    width = max(legend_x + legend_w, _text_size(bold, title)[0] + 2 * _PAD)
    height = grid_y + max(cell_h * len(row_labels), _LEGEND_MIN_H) + 2 * _PAD
    return _Layout(cell_w, cell_h, label_w, title_h, grid_y, legend_x, vertical, width, height)


def grid_to_heatmap_png(values: list[list[float]], row_labels: list[str], col_labels: list[str], title: str,
                        row_axis: str = "", col_axis: str = "") -> bytes:
    """A heatmap PNG: coloured cells with their value, row/column labels, title and a colour legend (NaN grey)."""
    grid = _check(values, row_labels, col_labels)
    font, bold = _font(13), _font(16)
    finite = [v for row in grid for v in row if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    box = _layout([_format(v) for row in grid for v in row], row_labels, col_labels, title, row_axis, col_axis,
                  [_format(low), _format(high)], font, bold)
    img = Image.new("RGB", (box.width, box.height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((_PAD, _PAD), title, font=bold, fill="black")
    if col_axis:
        draw.text((box.label_w + box.cell_w * len(col_labels) / 2, box.title_h), col_axis, font=font, fill="black", anchor="mt")
    if row_axis:
        draw.text((_PAD, box.grid_y - _PAD), row_axis, font=font, fill="black", anchor="ld")
    _draw_column_labels(img, draw, col_labels, font, box)
    for r, label in enumerate(row_labels):
        top = box.grid_y + r * box.cell_h
        draw.text((box.label_w - _PAD, top + box.cell_h / 2), str(label), font=font, fill="black", anchor="rm")
        for c, value in enumerate(grid[r]):
            cell = (box.label_w + c * box.cell_w, top, box.label_w + (c + 1) * box.cell_w, top + box.cell_h)
            fill = _color((value - low) / (high - low) if high > low else 0.5) if math.isfinite(value) else _NAN_FILL
            draw.rectangle(cell, fill=fill, outline="white")
            _centered(draw, cell, _format(value), font, _ink(fill))
    legend_h = max(box.cell_h * len(row_labels), _LEGEND_MIN_H)
    _draw_legend(draw, font, box.legend_x, box.grid_y, legend_h, low, high, bool(finite))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _draw_column_labels(img: Image.Image, draw, labels: list[str], font, box: _Layout) -> None:
    bottom = box.grid_y
    for c, label in enumerate(labels):
        center = box.label_w + c * box.cell_w + box.cell_w // 2
        if not box.vertical:
            draw.text((center, bottom - _PAD), str(label), font=font, fill="black", anchor="md")
            continue
        w, h = _text_size(font, str(label))
        patch = Image.new("RGB", (w + 4, h + 6), "white")
        ImageDraw.Draw(patch).text((2, 3), str(label), font=font, fill="black", anchor="lt")
        rotated = patch.rotate(90, expand=True)
        img.paste(rotated, (center - rotated.width // 2, bottom - _PAD - rotated.height))


def _draw_legend(draw, font, x: int, y: int, height: int, low: float, high: float, any_finite: bool) -> None:
    """A vertical colour bar from `high` (top) to `low` (bottom), labelled at both ends."""
    for i in range(height):
        draw.line((x, y + i, x + _LEGEND_W, y + i), fill=_color(1 - i / max(height - 1, 1)))
    draw.rectangle((x, y, x + _LEGEND_W, y + height), outline="black")
    if any_finite:
        draw.text((x + _LEGEND_W + _PAD // 2, y), _format(high), font=font, fill="black", anchor="lt")
        draw.text((x + _LEGEND_W + _PAD // 2, y + height), _format(low), font=font, fill="black", anchor="lb")
