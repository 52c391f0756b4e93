"""Which checkpoint is best: each metric against the training step (with CIs) and the best step per metric,
compared in pairs with the latest step on the same prompts and seeds.

Reads metric rows, per-image score rows and the Variants (their `train_step` setting), never labels. A
model's steps are grouped with the rest of their sweep cell, so a swept run gets a curve per cell.
"""

from __future__ import annotations

import html
import math
from typing import Sequence

from tasks.metrics.aggregate import compare_samples
from tasks.values.metric import direction
from tasks.models.checkpoints import STEP_AXIS
from tasks.values.names import GROUP_ALL
from tasks.values.units import Variant
from tasks.reporting.plots import _figure, figure_to_png, png_to_img
from tasks.reporting.report import fmt_number, html_table

BEST_COLUMNS = ("model", "setting", "metric", "best_step", "best", "best_ci_low", "best_ci_high", "latest_step", "latest",
                "diff", "diff_ci_low", "diff_ci_high", "n", "verdict")


def step_series(metrics: list[dict], variants: Sequence[Variant]) -> dict[tuple[str, str, str], list[tuple[int, dict]]]:
    """(model, rest of the cell as text, metric) -> [(step, metric row of group all)] in step order."""
    by_variant = {v.variant_id: v for v in variants if STEP_AXIS in v.cell}
    series: dict[tuple[str, str, str], list[tuple[int, dict]]] = {}
    for row in metrics:
        v = by_variant.get(row["model"])
        if v is None or row["group"] != GROUP_ALL or not math.isfinite(row["value"]):
            continue
        rest = ", ".join(f"{k}={x}" for k, x in v.cell.items() if k != STEP_AXIS) or "–"
        series.setdefault((v.model, rest, row["metric"]), []).append((v.cell[STEP_AXIS], row))
    return {k: sorted(pts, key=lambda p: p[0]) for k, pts in series.items()}


def _verdict(diff: dict, d: int, same: bool) -> str:
    if same:
        return "the latest step is the best"
    low, high = diff["ci_low"] * d, diff["ci_high"] * d
    if math.isnan(low):
        return "best by value only (no paired CI: set metric or n < 2)"
    return "best is ahead of the latest (95% CI excludes 0)" if min(low, high) > 0 else "not distinguishable from the latest"


def best_steps(metrics: list[dict], scores: list[dict], variants: Sequence[Variant], resamples: int = 1000,
               seed: int = 0) -> list[dict]:
    """Per model, cell and metric: the best step (by the metric's direction), the latest, and best − latest
    paired on the same prompts and seeds (per-image metrics; set metrics have no pairs)."""
    rows = []
    for (model, rest, metric), points in step_series(metrics, variants).items():
        d = direction(metric) or 1
        best_step, best = max(points, key=lambda p: (d * p[1]["value"], p[0]))  # a tie goes to the later step
        latest_step, latest = points[-1]
        mine = [s for s in scores if s["metric"] == metric and s["variant"] in (best["model"], latest["model"])]
        diff = compare_samples(mine, metric, [(best["model"], latest["model"])], resamples, seed)[0] if mine else \
            {"diff": best["value"] - latest["value"], "ci_low": math.nan, "ci_high": math.nan, "n": best.get("n")}
        rows.append({"model": model, "setting": rest, "metric": metric, "best_step": best_step, "best": best["value"],
                     "best_ci_low": best["ci_low"], "best_ci_high": best["ci_high"], "latest_step": latest_step,
                     "latest": latest["value"], "diff": diff["diff"], "diff_ci_low": diff["ci_low"], "diff_ci_high": diff["ci_high"],
                     "n": diff["n"], "verdict": _verdict(diff, d, best_step == latest_step)})
    return rows


def curve_png(series: dict, metric: str, best: list[dict]) -> bytes:
    """One metric against the training step: a line per model (and cell) with its 95% CI band; the best step ringed."""
    fig = _figure(8.0, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    mine = [(k, pts) for k, pts in series.items() if k[2] == metric]
    for i, ((model, rest, _), points) in enumerate(mine):
        label = model if rest == "–" else f"{model} ({rest})"
        steps = [s for s, _ in points]
        ax.plot(steps, [r["value"] for _, r in points], "o-", color=f"C{i % 10}", label=label)
        low = [r["ci_low"] if math.isfinite(r["ci_low"]) else r["value"] for _, r in points]
        high = [r["ci_high"] if math.isfinite(r["ci_high"]) else r["value"] for _, r in points]
        ax.fill_between(steps, low, high, color=f"C{i % 10}", alpha=0.2)
        pick = next((b for b in best if (b["model"], b["setting"], b["metric"]) == (model, rest, metric)), None)
        if pick is not None:
            ax.plot([pick["best_step"]], [pick["best"]], "o", ms=14, mfc="none", mec=f"C{i % 10}", mew=2)
    steps = sorted({s for _, pts in mine for s, _ in pts})
    if len(steps) <= 12:
        ax.set_xticks(steps, [str(s) for s in steps])
    d = direction(metric)
    ax.set_title(f"{metric} against training step{' (higher is better)' if d > 0 else ' (lower is better)' if d < 0 else ''}; "
                 "band: 95% CI, ring: best step", fontsize=10)
    ax.set_xlabel("training step")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_to_png(fig)


def checkpoint_section(metrics: list[dict], best: list[dict], variants: Sequence[Variant]) -> str:
    """The report's 'Which checkpoint is best' section from the score stage's best-step rows ('' without checkpoints)."""
    series = step_series(metrics, variants)
    if not series:
        return ""
    plots = [png_to_img(curve_png(series, m, best), f"{m} against training step") for m in dict.fromkeys(k[2] for k in series)]
    table = html_table(best, list(BEST_COLUMNS), "Best step per metric; diff = best − latest, paired on the same prompts and "
                       "seeds (95% bootstrap CI)")
    return f"<h2>Which checkpoint is best</h2><div class='plots'>{''.join(plots)}</div>{table}"


def best_steps_markdown(rows: list[dict]) -> list[str]:
    """The best-step table as Markdown lines (the Prefect summary artifact); [] without checkpoints."""
    if not rows:
        return []
    lines = ["## Which checkpoint is best", "", "| model | metric | best step | value | latest step | best − latest | 95% CI | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ci = "–" if math.isnan(r["diff_ci_low"]) else f"[{r['diff_ci_low']:.4f}, {r['diff_ci_high']:.4f}]"
        lines.append(f"| {r['model']} | {r['metric']} | {r['best_step']} | {fmt_number(r['best'])} | {r['latest_step']} | "
                     f"{fmt_number(r['diff'])} | {ci} | {html.escape(r['verdict'])} |")
    return lines
