"""Trend plots for the report: each metric over the last N runs of a spec, with CIs, regressions marked.

Drawn with matplotlib and embedded as base64 PNGs, so report.html still works offline and when the
run folder is copied elsewhere. The rows are the history table's (tasks/reporting/history.py), group
`all` only: one line per model, error bars for the 95% CI where the run has one, a red cross where the
row's verdict against its baseline was `regressed`.
"""

from __future__ import annotations

import base64
import html
import io
import math
import time

from tasks.reporting.plot_cache import kept
from tasks.values.names import GROUP_ALL

DEFAULT_RUNS = 10
MAX_SERIES = 6  # lines per panel: more become stacked panels, so a legend never needs to list a crowd
REGRESSED = "regressed"
_DPI = 100
_PAD_INCHES = 0.1  # savefig's default pad_inches around a tight box


def last_runs(rows: list[dict], last_n: int) -> list[str]:
    """The ids of the last `last_n` runs among `rows`, oldest first (rows come oldest run first)."""
    ids = list(dict.fromkeys(r["run_id"] for r in rows))
    return ids[-last_n:] if last_n > 0 else []


def _finite(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _panel(ax, series: list, first_colour: int) -> None:
    """One panel of a trend: a line with CI bars per model, regressions as red crosses, the legend outside."""
    for i, (model, points) in enumerate(series):
        ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[[p[2] for p in points], [p[3] for p in points]],
                    marker="o", capsize=3, label=model, color=f"C{(first_colour + i) % 10}")
    bad = [(p[0], p[1]) for _, points in series for p in points if p[4]]
    if bad:
        ax.scatter(*zip(*bad), marker="X", s=120, color="red", zorder=3, label=REGRESSED)
    ax.ticklabel_format(axis="y", useOffset=False)  # plain values, never "+5.934e1"
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the data, never on it


def metric_to_trend_png(rows: list[dict], run_ids: list[str], metric: str) -> bytes:
    """One metric's trend: x = run (oldest left), y = value; per model a line, CI bars, regressions in red.

    More than MAX_SERIES models are drawn in stacked panels of MAX_SERIES each, sharing the x axis."""
    position = {run_id: i for i, run_id in enumerate(run_ids)}
    mine = [r for r in rows if r["metric"] == metric and r["group"] == GROUP_ALL and r["run_id"] in position]
    series = []
    for model in dict.fromkeys(r["model"] for r in mine):
        points = [r for r in mine if r["model"] == model and _finite(r["value"])]
        series.append([model, [[position[r["run_id"]], r["value"], r["value"] - r["ci_low"] if _finite(r["ci_low"]) else 0.0,
                                r["ci_high"] - r["value"] if _finite(r["ci_high"]) else 0.0, r["verdict"] == REGRESSED]
                               for r in points]])
    created = {r["run_id"]: r["created"] for r in mine}
    return trend_png(metric, series, [_short_time(created.get(i)) for i in run_ids])


@kept  # drawn from what it shows (values, CIs, crosses, tick labels): a re-run that changes none of it reuses the PNG
def trend_png(metric: str, series: list, ticks: list[str]) -> bytes:
    """Draw a trend from its series [[model, [[x, value, ci below, ci above, regressed], ...]], ...] and x tick labels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # the object API: no global pyplot state, no display needed

    chunks = [series[i:i + MAX_SERIES] for i in range(0, len(series), MAX_SERIES)] or [[]]
    fig = Figure(figsize=(max(4.0, 1.0 + 0.6 * len(ticks)), 0.6 + 2.6 * len(chunks)), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(chunks), 1, sharex=True, sharey=True, squeeze=False)[:, 0]  # one scale: panels compare
    for k, (ax, chunk) in enumerate(zip(axes, chunks)):
        _panel(ax, chunk, k * MAX_SERIES)
    axes[-1].set_xticks(range(len(ticks)), ticks, rotation=45, ha="right", fontsize=8)
    axes[-1].set_xlim(-0.5, len(ticks) - 0.5)
    axes[0].set_title(f"{metric} (group {GROUP_ALL}), last {len(ticks)} runs")
    # bbox_inches="tight" lays the figure out twice (a draw with rendering disabled, then the tight box);
    # the tight box asked for directly, padded as savefig pads it, gives the same pixels 15% sooner.
    tight = fig.get_tightbbox(fig.canvas.get_renderer()).padded(_PAD_INCHES)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches=tight, facecolor="white")
    return buffer.getvalue()


def _short_time(created: float | None) -> str:
    return "?" if created is None else time.strftime("%m-%d %H:%M", time.gmtime(created))


def trend_section(rows: list[dict], last_n: int = DEFAULT_RUNS, note: str = "") -> str:
    """The report's trend section: one embedded PNG per metric over the last `last_n` runs ('' for no rows);
    `note` says which earlier runs were left out (measured with other extractors)."""
    run_ids = last_runs(rows, last_n)
    metrics = list(dict.fromkeys(r["metric"] for r in rows if r["run_id"] in run_ids and r["group"] == GROUP_ALL))
    if not metrics or len(run_ids) < 2:  # one run has no trend: its values are in the plots above
        return f"<p>{html.escape(note)}.</p>" if note and metrics else ""
    figures = []
    for metric in metrics:
        data = base64.b64encode(metric_to_trend_png(rows, run_ids, metric)).decode("ascii")
        figures.append(f"<img class='trend' alt='{html.escape(metric)} trend' src='data:image/png;base64,{data}'>")
    return (f"<h2>Trend</h2><p>The last {len(run_ids)} runs of this spec (of at most {last_n}), group {GROUP_ALL}: "
            f"95% CI bars where a run has one; a red cross marks a regression against that run's baseline."
            f"{' ' + html.escape(note) + '.' if note else ''}</p>" + "".join(figures))
