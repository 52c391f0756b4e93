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

from tasks.values.names import GROUP_ALL

DEFAULT_RUNS = 10
REGRESSED = "regressed"
_DPI = 100


def last_runs(rows: list[dict], last_n: int) -> list[str]:
    """The ids of the last `last_n` runs among `rows`, oldest first (rows come oldest run first)."""
    ids = list(dict.fromkeys(r["run_id"] for r in rows))
    return ids[-last_n:] if last_n > 0 else []


def _finite(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def metric_to_trend_png(rows: list[dict], run_ids: list[str], metric: str) -> bytes:
    """One metric's trend: x = run (oldest left), y = value; per model a line, CI bars, regressions in red."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # the object API: no global pyplot state, no display needed

    position = {run_id: i for i, run_id in enumerate(run_ids)}
    mine = [r for r in rows if r["metric"] == metric and r["group"] == GROUP_ALL and r["run_id"] in position]
    fig = Figure(figsize=(max(4.0, 1.0 + 0.6 * len(run_ids)), 3.0), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for model in dict.fromkeys(r["model"] for r in mine):
        points = [r for r in mine if r["model"] == model and _finite(r["value"])]
        low = [r["value"] - r["ci_low"] if _finite(r["ci_low"]) else 0.0 for r in points]
        high = [r["ci_high"] - r["value"] if _finite(r["ci_high"]) else 0.0 for r in points]
        ax.errorbar([position[r["run_id"]] for r in points], [r["value"] for r in points], yerr=[low, high],
                    marker="o", capsize=3, label=model)
    bad = [(position[r["run_id"]], r["value"]) for r in mine if r["verdict"] == REGRESSED and _finite(r["value"])]
    if bad:
        ax.scatter(*zip(*bad), marker="X", s=120, color="red", zorder=3, label=REGRESSED)
    created = {r["run_id"]: r["created"] for r in mine}
    ax.set_xticks(range(len(run_ids)), [_short_time(created.get(i)) for i in run_ids], rotation=45, ha="right", fontsize=8)
    ax.set_xlim(-0.5, len(run_ids) - 0.5)
    ax.set_title(f"{metric} (group {GROUP_ALL}), last {len(run_ids)} runs")
    ax.legend(fontsize=8, loc="best")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def _short_time(created: float | None) -> str:
    return "?" if created is None else time.strftime("%m-%d %H:%M", time.gmtime(created))


def trend_section(rows: list[dict], last_n: int = DEFAULT_RUNS) -> str:
    """The report's trend section: one embedded PNG per metric over the last `last_n` runs ('' for no rows)."""
    run_ids = last_runs(rows, last_n)
    metrics = list(dict.fromkeys(r["metric"] for r in rows if r["run_id"] in run_ids and r["group"] == GROUP_ALL))
    if not metrics:
        return ""
    figures = []
    for metric in metrics:
        data = base64.b64encode(metric_to_trend_png(rows, run_ids, metric)).decode("ascii")
        figures.append(f"<img class='trend' alt='{html.escape(metric)} trend' src='data:image/png;base64,{data}'>")
    return (f"<h2>Trend</h2><p>The last {len(run_ids)} runs of this spec (of at most {last_n}), group {GROUP_ALL}: "
            f"95% CI bars where a run has one; a red cross marks a regression against that run's baseline.</p>"
            + "".join(figures))
