"""Trend plots for the report: each metric over the last N runs of a spec, with CIs, regressions marked.

Written as inline SVG: vector, readable offline and when the run folder is copied elsewhere, its bytes
independent of any library version, and each point carries its value, CI and run as a tooltip. Every
run adds a point, so every re-run draws its trends anew: written directly this takes about a millisecond
a metric, where drawing the same picture with matplotlib took 50 ms and its import 0.3 s per process.
The rows are the history table's (tasks/reporting/history.py), group `all` only: one line per model,
error bars for the 95% CI where the run has one, a red cross where the row's verdict against its
baseline was `regressed`.
"""

from __future__ import annotations

import html
import math
import time

from tasks.values.names import GROUP_ALL

DEFAULT_RUNS = 10
MAX_SERIES = 6  # lines per panel: more become stacked panels, so a legend never needs to list a crowd
REGRESSED = "regressed"
# matplotlib's default colour cycle (tab10), as the report's other plots use
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
RED = "#e00000"
FONT = 12  # px; the legend's width is estimated at CHAR_WIDTH per character of this sans-serif size
CHAR_WIDTH = 7.2
RUN_WIDTH, PANEL_HEIGHT = 56, 200  # px per run on x, per panel on y
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 30, 80  # margins: y labels, edge, title, rotated run times


def last_runs(rows: list[dict], last_n: int) -> list[str]:
    """The ids of the last `last_n` runs among `rows`, oldest first (rows come oldest run first)."""
    ids = list(dict.fromkeys(r["run_id"] for r in rows))
    return ids[-last_n:] if last_n > 0 else []


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def metric_to_trend_svg(rows: list[dict], run_ids: list[str], metric: str) -> str:
    """One metric's trend: x = run (oldest left), y = value; per model a line, CI bars, regressions in red.

    More than MAX_SERIES models are drawn in stacked panels of MAX_SERIES each, on one y scale."""
    position = {run_id: i for i, run_id in enumerate(run_ids)}
    mine = [r for r in rows if r["metric"] == metric and r["group"] == GROUP_ALL and r["run_id"] in position]
    series = []
    for model in dict.fromkeys(r["model"] for r in mine):
        points = [r for r in mine if r["model"] == model and _finite(r["value"])]
        series.append((model, [(position[r["run_id"]], r["value"], r["ci_low"] if _finite(r["ci_low"]) else r["value"],
                                r["ci_high"] if _finite(r["ci_high"]) else r["value"], r["verdict"] == REGRESSED)
                               for r in points]))
    created = {r["run_id"]: r["created"] for r in mine}
    return trend_svg(metric, series, [_short_time(created.get(i)) for i in run_ids])


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering [low, high], at most `most`."""
    if not high > low:
        low, high = low - (abs(low) * 0.05 or 1.0), high + (abs(high) * 0.05 or 1.0)
    raw = (high - low) / max(most - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    return [first + k * step for k in range(int(math.ceil((high - first) / step - 1e-9)) + 1)]


def _label(value: float, step: float) -> str:
    """A tick label with as many decimals as the step needs (plain numbers: never an offset or exponent)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if round(step / 10.0 ** math.floor(math.log10(step)), 6) == 2.5 else 0))
    return f"{value:.{decimals}f}"


def trend_svg(metric: str, series: list, ticks: list[str]) -> str:
    """The SVG of a trend from its series [(model, [(x, value, ci_low, ci_high, regressed), ...]), ...] and run labels."""
    chunks = [series[i:i + MAX_SERIES] for i in range(0, len(series), MAX_SERIES)] or [[]]
    spans = [v for _, points in series for p in points for v in p[1:4]]
    y_ticks = nice_ticks(min(spans, default=0.0), max(spans, default=1.0))
    low, high = y_ticks[0], y_ticks[-1]
    legend = 40 + CHAR_WIDTH * max((len(m) for m, _ in series), default=len(REGRESSED))
    plot_w = RUN_WIDTH * max(len(ticks), 4)  # a trend of two runs is not squeezed into 112 px
    width, height = LEFT + plot_w + RIGHT + legend, TOP + PANEL_HEIGHT * len(chunks) + BOTTOM
    x_of = lambda i: LEFT + (i + 0.5) * plot_w / max(len(ticks), 1)  # noqa: E731
    out = [f"<svg class='trend' xmlns='http://www.w3.org/2000/svg' role='img' aria-label='{html.escape(metric)} trend' "
           f"viewBox='0 0 {width:.0f} {height}' width='{width:.0f}' height='{height}' font-family='sans-serif' font-size='{FONT}'>",
           f"<rect width='100%' height='100%' fill='white'/><text x='{LEFT}' y='{TOP - 10}' font-size='{FONT + 2}'>"
           f"{html.escape(metric)} (group {GROUP_ALL}), last {len(ticks)} runs</text>"]
    for k, chunk in enumerate(chunks):
        top = TOP + PANEL_HEIGHT * k
        y_of = lambda v: top + 8 + (PANEL_HEIGHT - 16) * (high - v) / (high - low)  # noqa: E731
        out.append(_axes(top, plot_w, y_ticks, y_of))
        for i, (model, points) in enumerate(chunk):
            out.append(_series(model, points, COLOURS[(k * MAX_SERIES + i) % len(COLOURS)], x_of, y_of, ticks))
        out.append(_legend(chunk, LEFT + plot_w + RIGHT, top + 12, k * MAX_SERIES))
    base = TOP + PANEL_HEIGHT * len(chunks)
    out += [f"<text x='{x_of(i):.1f}' y='{base + 14}' text-anchor='end' font-size='{FONT - 1}' "
            f"transform='rotate(-45 {x_of(i):.1f} {base + 14})'>{html.escape(t)}</text>" for i, t in enumerate(ticks)]
    return "".join(out) + "</svg>"


def _axes(top: int, plot_w: float, y_ticks: list[float], y_of) -> str:
    """A panel's frame, horizontal grid lines and y tick labels."""
    step = y_ticks[1] - y_ticks[0]
    parts = [f"<rect x='{LEFT}' y='{top}' width='{plot_w:.0f}' height='{PANEL_HEIGHT}' fill='none' stroke='#444'/>"]
    for v in y_ticks:
        y = y_of(v)
        parts.append(f"<line x1='{LEFT}' x2='{LEFT + plot_w:.0f}' y1='{y:.1f}' y2='{y:.1f}' stroke='#ddd'/>"
                     f"<text x='{LEFT - 6}' y='{y + 4:.1f}' text-anchor='end'>{_label(v, step)}</text>")
    return "".join(parts)


def _series(model: str, points: list, colour: str, x_of, y_of, ticks: list[str]) -> str:
    """One model: its line, a dot per run with the run's numbers as a tooltip, CI bars, red crosses."""
    parts = [f"<g class='series' stroke='{colour}' fill='{colour}'>"]
    if len(points) > 1:
        path = " ".join(f"{x_of(x):.1f},{y_of(v):.1f}" for x, v, *_ in points)
        parts.append(f"<polyline points='{path}' fill='none' stroke-width='1.5'/>")
    for x, value, ci_low, ci_high, regressed in points:
        cx, cy = x_of(x), y_of(value)
        if ci_high > ci_low:
            lo, hi = y_of(ci_low), y_of(ci_high)
            parts.append(f"<path d='M{cx:.1f},{lo:.1f}V{hi:.1f}M{cx - 4:.1f},{lo:.1f}h8M{cx - 4:.1f},{hi:.1f}h8' fill='none'/>")
        tip = f"{model}, run of {ticks[x]}: {value:.4f}" + (f" (95% CI {ci_low:.4f} to {ci_high:.4f})" if ci_high > ci_low else "")
        parts.append(f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='3.5'><title>{html.escape(tip)}</title></circle>")
        if regressed:
            parts.append(f"<path class='{REGRESSED}' d='M{cx - 7:.1f},{cy - 7:.1f}l14,14M{cx - 7:.1f},{cy + 7:.1f}l14,-14' "
                         f"stroke='{RED}' stroke-width='3.5'><title>{html.escape(tip)}: {REGRESSED}</title></path>")
    return "".join(parts) + "</g>"


def _legend(chunk: list, x: float, y: int, first_colour: int) -> str:
    """Model names beside the panel, each with its colour; the red cross when the panel shows a regression."""
    entries = [(m, COLOURS[(first_colour + i) % len(COLOURS)]) for i, (m, _) in enumerate(chunk)]
    parts = []
    for j, (name, colour) in enumerate(entries):
        parts.append(f"<line x1='{x:.0f}' x2='{x + 22:.0f}' y1='{y + 18 * j}' y2='{y + 18 * j}' stroke='{colour}' stroke-width='2'/>"
                     f"<text x='{x + 28:.0f}' y='{y + 18 * j + 4}'>{html.escape(name)}</text>")
    if any(p[4] for _, points in chunk for p in points):
        cy = y + 18 * len(entries)
        parts.append(f"<path d='M{x + 5:.0f},{cy - 6}l12,12M{x + 5:.0f},{cy + 6}l12,-12' stroke='{RED}' stroke-width='3'/>"
                     f"<text x='{x + 28:.0f}' y='{cy + 4}'>{REGRESSED}</text>")
    return "".join(parts)


def _short_time(created: float | None) -> str:
    return "?" if created is None else time.strftime("%m-%d %H:%M", time.gmtime(created))


def trend_section(rows: list[dict], last_n: int = DEFAULT_RUNS, note: str = "") -> str:
    """The report's trend section: one inline SVG per metric over the last `last_n` runs ('' for no rows);
    `note` says which earlier runs were left out (measured with other extractors)."""
    run_ids = last_runs(rows, last_n)
    metrics = list(dict.fromkeys(r["metric"] for r in rows if r["run_id"] in run_ids and r["group"] == GROUP_ALL))
    if not metrics or len(run_ids) < 2:  # one run has no trend: its values are in the plots above
        return f"<p>{html.escape(note)}.</p>" if note and metrics else ""
    figures = "".join(f"<div class='trend'>{metric_to_trend_svg(rows, run_ids, metric)}</div>" for metric in metrics)
    return (f"<h2>Trend</h2><p>The last {len(run_ids)} runs of this spec (of at most {last_n}), group {GROUP_ALL}: "
            f"95% CI bars where a run has one; a red cross marks a regression against that run's baseline; "
            f"hover a point for its numbers.{' ' + html.escape(note) + '.' if note else ''}</p>" + figures)
