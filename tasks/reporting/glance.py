"""The top of the report, read at a glance: per metric, who is ahead and by how much; then the plots.

The verdict comes from the paired comparisons where two models share a sweep cell (the difference on the
same prompts and seeds, with its CI and n), and from the metric rows of group `all` otherwise (set
metrics, one-model sweeps). Which way is better comes from the metric registry, so a metric added
there shows up here without being named.
"""

from __future__ import annotations

import html
import json
import math
from typing import Sequence

from tasks.values.metric import direction
from tasks.values.names import GROUP_ALL
from tasks.values.units import Variant
from tasks.reporting.plots import forest_png, heatmap_axes, heatmap_pngs, png_to_img, sweep_png
from tasks.reporting.report import fmt_number, html_table
from tasks.reporting.sweeps import swept_axes

CLEAR, TIED, NO_CI, ALONE = "ahead", "tied within CI", "no CI", "only one"
VERDICT_COLUMNS = ["metric", "better", "setting", "a", "b", "a − b (+: a better)", "ci_low", "ci_high", "n", "status", "from"]


def _setting(cell: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell.items()) or "–"


def _row(metric: str, d: int, setting: str, ahead: str, behind: str, by: float, low: float, high: float, n, status: str,
         source: str) -> dict:
    return {"metric": metric, "better": "higher" if d > 0 else "lower", "setting": setting, "ahead": ahead, "behind": behind,
            "by": by, "ci_low": low, "ci_high": high, "n": n, "status": status, "from": source}


def paired_verdicts(comparisons: list[dict], variants: dict[str, Variant]) -> list[dict]:
    """One row per paired comparison: the model ahead, its lead (a positive number) and the lead's CI."""
    out = []
    for c in comparisons:
        d = direction(c["metric"])
        if d == 0 or not math.isfinite(c["diff"]) or c["a"] not in variants or c["b"] not in variants:
            continue
        a, b = variants[c["a"]], variants[c["b"]]
        low, high = sorted((d * c["ci_low"], d * c["ci_high"]))  # the CI of (a − b) turned so that positive is better
        if d * c["diff"] < 0:
            a, b, low, high = b, a, -high, -low
        status = NO_CI if math.isnan(low) else CLEAR if low > 0 else TIED
        out.append(_row(c["metric"], d, _setting(a.cell), a.model, b.model, abs(c["diff"]), low, high, c["n"], status,
                        "paired comparison"))
    return out


def _ranked(rows: list[dict], d: int) -> list[dict]:
    return sorted(rows, key=lambda r: -d * r["value"])


def _apart(lead: dict, second: dict, d: int) -> str:
    """Whether two rows' own CIs separate them (set metrics have none)."""
    ends = [lead["ci_low"], lead["ci_high"], second["ci_low"], second["ci_high"]]
    if not all(math.isfinite(e) for e in ends):
        return NO_CI
    return CLEAR if (lead["ci_low"] > second["ci_high"] if d > 0 else lead["ci_high"] < second["ci_low"]) else TIED


def row_verdicts(metric: str, rows: list[dict], variants: dict[str, Variant]) -> list[dict]:
    """Rows of one metric (group `all`) with no paired comparison: per sweep cell the best model against the
    next one; with one model, its best variant against the next best."""
    d = direction(metric)
    rows = [r for r in rows if r["model"] in variants and math.isfinite(r["value"])]
    models = {variants[r["model"]].model for r in rows}
    if len(models) > 1:
        cells: dict[str, list[dict]] = {}
        for r in rows:
            cells.setdefault(json.dumps(variants[r["model"]].cell, sort_keys=True, default=str), []).append(r)
        pairs = [(_ranked(group, d), True) for group in cells.values() if len(group) > 1]
    else:
        pairs = [(_ranked(rows, d), False)] if rows else []
    out = []
    for ranked, by_model in pairs:
        lead = ranked[0]
        name = (lambda r: variants[r["model"]].model) if by_model else (lambda r: r["model"])
        setting = _setting(variants[lead["model"]].cell) if by_model else "best variant"
        if len(ranked) == 1:
            out.append(_row(metric, d, setting, name(lead), "–", math.nan, math.nan, math.nan, lead.get("n"), ALONE, "metric rows"))
            continue
        second = ranked[1]
        out.append(_row(metric, d, setting, name(lead), name(second), abs(lead["value"] - second["value"]), math.nan, math.nan,
                        lead.get("n"), _apart(lead, second, d), "metric rows"))
    return out


def verdict_rows(metrics: list[dict], comparisons: list[dict], variants: Sequence[Variant]) -> list[dict]:
    """The verdict of every metric with a direction (not kid_std / is_std), in the order of the metric rows."""
    by_id = {v.variant_id: v for v in variants}
    paired = paired_verdicts(comparisons, by_id)
    out = []
    for metric in dict.fromkeys(r["metric"] for r in metrics):
        if direction(metric) == 0:
            continue
        mine = [r for r in paired if r["metric"] == metric]
        out += mine or row_verdicts(metric, [r for r in metrics if r["metric"] == metric and r["group"] == GROUP_ALL], by_id)
    return out


def _ci(row: dict, clear: bool) -> str:
    """The evidence: the paired CI of the lead, or (metric rows) whether the two models' own CIs overlap."""
    if math.isnan(row["ci_low"]):
        return "their 95% CIs do not overlap" if clear else "their 95% CIs overlap"
    return f"95% CI {fmt_number(row['ci_low'])} to {fmt_number(row['ci_high'])}" + ("" if clear else " includes 0")


def _one(r: dict) -> str:
    """One comparison in words that cannot contradict its status: only a CI clear of 0 makes a model ahead."""
    head = f"{r['metric']} ({r['better']} is better)"
    if r["status"] == CLEAR:
        return f"{head}: {r['ahead']} ahead of {r['behind']} by {fmt_number(r['by'])}, {_ci(r, True)}, n {r['n']}"
    if r["status"] == TIED:
        return (f"{head}: {r['ahead']} and {r['behind']} tied within CI (difference {fmt_number(r['by'])}, "
                f"{_ci(r, False)}, n {r['n']})")
    return f"{head}: {r['ahead']} and {r['behind']} differ by {fmt_number(r['by'])} with no CI, so no verdict (n {r['n']})"


def headlines(rows: list[dict]) -> list[str]:
    """One sentence per metric and pair of models: who is ahead with the CI and n, or tied; over several
    settings, in how many each is ahead (CI clear of 0), tied, or without a CI."""
    pairs: dict[tuple, list[dict]] = {}
    for r in rows:
        pairs.setdefault((r["metric"], tuple(sorted((r["ahead"], r["behind"])))), []).append(r)
    out = []
    for (metric, models), mine in pairs.items():
        if len(mine) == 1:
            r = mine[0]
            out.append(f"{metric}: only {r['ahead']} to compare (n {r['n']})" if r["status"] == ALONE else _one(r))
            continue
        counts = [(f"{m} ahead", sum(r["status"] == CLEAR and r["ahead"] == m for r in mine)) for m in models]
        counts += [(TIED, sum(r["status"] == TIED for r in mine)), (NO_CI, sum(r["status"] == NO_CI for r in mine))]
        said = ", ".join(f"{what} in {k}" for what, k in counts if k)
        out.append(f"{metric} ({mine[0]['better']} is better), {models[0]} vs {models[1]} over {len(mine)} settings: {said}")
    return out


def _display(r: dict) -> dict:
    """A verdict row as the table shows it: a, b and a − b signed so that + means a is better, and the status."""
    status = {CLEAR: "a ahead"}.get(r["status"], r["status"])
    return {"metric": r["metric"], "better": r["better"], "setting": r["setting"], "a": r["ahead"], "b": r["behind"],
            "a − b (+: a better)": r["by"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n": r["n"], "status": status,
            "from": r["from"]}


def verdict_section(rows: list[dict], baseline: str = "") -> str:
    """The verdict table, with one line on how to read it (and the run's verdict against its baseline)."""
    intro = ("<p>Per metric, group all. Where two models share a setting, from the paired comparison on the same "
             "prompts and seeds (a − b and its 95% bootstrap CI over conditions, n conditions); otherwise from the metric "
             "rows (the gap to the next; FID / KID / IS have no CI). <b>a ahead</b>: the CI lies wholly above 0 "
             f"(metric rows: the two CIs do not overlap); <b>{TIED}</b>: the CI includes 0, so the difference may be "
             f"noise; <b>{NO_CI}</b>: nothing to judge by.</p>")
    after = f"<p class='verdict-line'><b>{html.escape(baseline)}</b></p>" if baseline else ""
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in headlines(rows))
    shown = [_display(r) for r in rows]
    table = html_table(shown, VERDICT_COLUMNS, "Who is ahead, per metric and setting", lambda r: "good" if r["status"] == "a ahead" else "")
    if not rows:
        return f"<h2>At a glance</h2>{after}<p>No metric with a direction to compare.</p>"
    return f"<h2>At a glance</h2>{after}<ul class='verdict'>{lines}</ul>{intro}{table}"


def _ordered_axes(variants: Sequence[Variant]) -> list[str]:
    swept = swept_axes(variants)
    return [k for k in dict.fromkeys(k for v in variants for k in v.cell) if k in swept]


def plot_section(metrics: list[dict], variants: Sequence[Variant]) -> str:
    """Forest plots per metric, each metric against each swept setting, heatmaps over two swept settings,
    fidelity against diversity per model."""
    from tasks.reporting.fidelity_diversity import fidelity_diversity_imgs

    names = [m for m in dict.fromkeys(r["metric"] for r in metrics) if direction(m) != 0]
    if not names:
        return ""
    forests = [png_to_img(forest_png(metrics, m, direction(m))[0], f"{m}: forest plot") for m in names]
    axes = _ordered_axes(variants)
    sweeps = [png_to_img(sweep_png(metrics, variants, m, axes, direction(m)), f"{m} against {', '.join(axes)}")
              for m in names] if axes else []
    pair = heatmap_axes(variants, axes)
    heatmaps = [png_to_img(png, f"{title} heatmap") for title, png in heatmap_pngs(metrics, variants, names, pair)] if pair else []
    parts = [("Value and CI per model and group", forests), ("Against the swept settings", sweeps),
             ("Fidelity against diversity", fidelity_diversity_imgs(metrics, variants)),
             (f"Heatmaps over {pair[0]} x {pair[1]}" if pair else "", heatmaps)]
    return "<h2>Plots</h2>" + "".join(f"<h3>{html.escape(title)}</h3><div class='plots'>{''.join(imgs)}</div>"
                                      for title, imgs in parts if imgs)


def glance_sections(metrics: list[dict], comparisons: list[dict], variants: Sequence[Variant], baseline: str = "") -> list[str]:
    """What the report opens with: the verdict, then the plots (the tables come after them)."""
    return [verdict_section(verdict_rows(metrics, comparisons, variants), baseline), plot_section(metrics, variants)]
