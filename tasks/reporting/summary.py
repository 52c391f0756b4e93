"""Closing a run: its tables, report, registry row, regression verdicts and the summary object."""

from __future__ import annotations

import html
import json
import math
import time

from artifacts.history import append_history
from artifacts.runfiles import register_run, write_run_table
from artifacts.store import run_rel
from tasks.reporting.against_baseline import against_baseline, baseline_section, comparable_history, shared_note
from tasks.reporting.baselines import REGRESSED, verdict_line
from tasks.reporting.checkpoints import best_steps_markdown
from tasks.reporting.history import run_to_history_rows
from tasks.reporting.trend import trend_section
from tasks.metrics.aggregate import order_groups
from tasks.metrics.group_size import left_out_note, shown_rows
from tasks.values.names import COMPARISON_COLUMNS, METRIC_COLUMNS
from tasks.values.context import RunContext
from tasks.values.scored import Scored
from tasks.plan.prepare import Prepared
from tasks.reporting.glance import glance_sections
from tasks.reporting.plot_cache import plots_kept_in
from tasks.reporting.report import fmt_number, html_table, image_grid, provenance_footer, write_report
from tasks.reporting.sections import scored_sections
from tasks.reporting.verdicts import REGRESSED as WORSE


class RegressionFailed(RuntimeError):
    """A metric got worse than the spec's regression tolerance allows (and regression.fail is set)."""

    def __init__(self, summary: dict):
        bad = [f"{v['model']} {v['metric']} {v['previous']:.4f}→{v['current']:.4f}" for v in summary["regressions"] if v["verdict"] == WORSE]
        super().__init__(f"regression against run {summary['previous_run']}: {'; '.join(bad)}")
        self.summary = summary


def _public(row: dict, columns: tuple) -> dict:
    extra = {k: v for k, v in row.items() if k not in columns}
    return {**{c: row.get(c) for c in columns}, **extra}


def ignored_section(variants) -> str:
    """Settings the spec declares or sweeps that a variant's pipeline does not take (they change nothing)."""
    rows = [{"variant": v.variant_id, "pipeline": v.pipeline, "ignored": ", ".join(v.ignored)} for v in variants if v.ignored]
    return html_table(rows, ["variant", "pipeline", "ignored"], "Settings a pipeline ignores (its images do not depend on them)")


def _history_rows(prepared: Prepared, run_id: str, baseline: str | None, verdict: str, metrics: list[dict],
                  verdicts: list[dict]) -> list[dict]:
    run = {"run_id": run_id, "created": time.time(), "spec": prepared.spec.name, "task": prepared.spec.task,
           "baseline_run": baseline, "run_verdict": verdict}
    variants = [{"variant": v.variant_id, "model": v.model, "fingerprint": prepared.model_of(v).fingerprint,
                 "settings": dict(v.cell)} for v in prepared.variants]
    return run_to_history_rows(run, variants, metrics, verdicts)


def finish_run(ctx: RunContext, counts: dict, scored: Scored) -> dict:
    """Write the run folder (spec, tables, report, summary.json), register it, return the summary."""
    store, prepared, run_id = ctx.store, ctx.prepared, ctx.run_id
    spec = prepared.spec
    metrics, comparisons = order_groups(scored.metrics), scored.comparisons
    store.write_bytes(run_rel(run_id, "spec.yaml"), open(prepared.spec_path, "rb").read())
    cells = {v.variant_id: v.cell for v in prepared.variants}
    write_run_table(store, run_id, "conditions", [c.to_row() for c in prepared.conditions])
    # items.parquet keeps its column order: key, model, variant, cell, condition_id, seed, sample_index.
    write_run_table(store, run_id, "items", [{"key": i.key, "model": i.model, "variant": i.variant_id, "cell": cells[i.variant_id],
                                              **i.to_row()} for i in prepared.items])
    write_run_table(store, run_id, "scores", scored.scores)
    write_run_table(store, run_id, "metrics", metrics)
    write_run_table(store, run_id, "comparisons", comparisons)
    for name, rows in scored.tables.items():  # per-skill tables (tasks/reporting/skills.py)
        write_run_table(store, run_id, name, rows)
    shown = shown_rows(metrics)  # per-group set metrics on too few images stay in metrics.parquet, flagged
    judged = against_baseline(ctx, scored.scores, shown)
    previous, verdicts, verdict = judged["previous_run"], judged["regressions"], judged["verdict"]
    left_out = left_out_note(metrics, spec.metrics.min_group_images)
    history = _history_rows(prepared, run_id, previous, verdict, metrics, verdicts)
    earlier, trend_note = comparable_history(store, spec.name, judged["extractors"])
    append_history(store, history)  # before register_run: readers keep registered runs' rows only
    line = verdict_line({**judged, "spec": spec.name})
    with plots_kept_in(store):  # values unchanged since an earlier run: its plots, from the store
        glance = glance_sections(shown, comparisons, prepared.variants, line)
        trend = trend_section(earlier + history, spec.report.trend_runs, trend_note)
    page = [
        f"<p>Run <b>{run_id}</b> · task {spec.task} · {counts['images_planned']} images "
        f"({counts['images_generated']} generated, {counts['images_reused']} reused) · "
        f"features {counts['features_extracted']} extracted, {counts['features_reused']} reused</p>",
        # At a glance: the verdict, then the plots; further plot sections go after these, the tables below.
        *glance,
        trend,
        "<h2>Tables</h2>",
        html_table(shown, list(METRIC_COLUMNS), "Metrics (95% bootstrap CI over prompts, classes or edit pairs, – where n < 2; "
                   "FID / KID / IS have none: see their sd over seeds and kid_std / is_std)"),
        f"<p class='warn'>{html.escape(left_out)}</p>" if left_out else "",
        html_table(comparisons, list(COMPARISON_COLUMNS), "Paired comparisons (a − b on the same prompts and seeds)"),
        baseline_section(judged),
        *scored_sections(ctx, scored),
        ignored_section(prepared.variants),
        image_grid(store, run_id, prepared.items, prepared.conditions, [v.variant_id for v in prepared.variants],
                   spec.report.grid_seeds),
        provenance_footer(judged["provenance"]),
    ]
    report = write_report(store, run_id, f"diffeval · {spec.name}", page)
    summary = {
        "run_id": run_id, "store": str(store.root), "spec": spec.name, "task": spec.task, "counts": counts,
        "variants": [{"variant": v.variant_id, "model": v.model, "settings": dict(v.cell)} for v in prepared.variants],
        "metrics": [_public(m, METRIC_COLUMNS) for m in metrics],
        "comparisons": [_public(c, COMPARISON_COLUMNS) for c in comparisons],
        **judged, "verdict_line": line, "report": report,
        "group_comparisons": scored.tables.get("group_comparisons", []),
        "geneval_summary": scored.tables.get("geneval_summary", []),
        "regression_failed": spec.regression.fail and verdict == REGRESSED, "best_steps": scored.best_steps,
    }
    summary_rel = run_rel(run_id, "summary.json")
    store.write_text(summary_rel, json.dumps(summary, indent=2, default=str))
    register_run(store, run_id, spec.name, spec.task, "completed", summary_rel, verdict, judged["provenance"])
    return summary


def summary_markdown(summary: dict) -> str:
    """The Prefect UI summary: counts, the comparison verdicts, regressions and where the report is."""
    c = summary["counts"]
    lines = [f"# diffeval · {summary['spec']}", "", f"Run `{summary['run_id']}`: {c['images_planned']} images "
             f"({c['images_generated']} generated, {c['images_reused']} reused); features {c['features_extracted']} "
             f"extracted, {c['features_reused']} reused.", "", "| a | b | metric | diff | 95% CI | win rate | n |", "|---|---|---|---|---|---|---|"]
    for r in summary["comparisons"]:
        ci = "–" if math.isnan(r["ci_low"]) else f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
        lines.append(f"| {r['a']} | {r['b']} | {r['metric']} | {fmt_number(r['diff'])} | {ci} | {r['win_rate']:.2f} | {r['n']} |")
    lines += ["", *best_steps_markdown(summary.get("best_steps") or []), "", *verdict_markdown(summary)]
    lines += ["", f"Report: `{summary['report']}`"]
    return "\n".join(lines)


def verdict_markdown(summary: dict) -> list[str]:
    """The verdict line, the rule it follows, then each regressed row with its values, CI and tolerance."""
    line = summary.get("verdict_line") or verdict_line(summary)
    if summary.get("previous_run") is None:
        return [f"**{line}**"]
    lines = [f"**{line}**", "", f"{shared_note(summary.get('shared_conditions'))}. Rule: {summary.get('verdict_rule', '')}"]
    bad = [v for v in summary["regressions"] if v["verdict"] == WORSE]
    if bad:
        lines += ["", "| model | metric | group | baseline | now | change | 95% CI | tolerance |", "|---|---|---|---|---|---|---|---|"]
        for v in bad:
            ci = "–" if math.isnan(v["ci_low"]) else f"[{v['ci_low']:.4f}, {v['ci_high']:.4f}]"
            lines.append(f"| {v['model']} | {v['metric']} | {v['group']} | {v['previous']:.4f} | {v['current']:.4f} | "
                         f"{v['change']:+.4f} | {ci} | {fmt_number(v['tolerance'])} |")
    return lines
