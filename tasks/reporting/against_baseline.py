"""A run against its baseline: which run, or why none; the paired verdict rows, the rule, the worst change.

Called by finish_run (tasks/reporting/summary.py) once the run's scores and metric rows exist.
"""

from __future__ import annotations

import html

from artifacts.history import read_history
from artifacts.runfiles import read_run_summary, read_run_table
from artifacts.store import Store
from tasks.models.provenance import run_provenance
from tasks.values.context import RunContext
from tasks.values.metric import enabled_metrics
from tasks.plan.prepare import Prepared
from tasks.reporting.baselines import baseline_run, run_verdict
from tasks.reporting.comparable import comparable_runs, extractor_changes, extractor_record, library_note, refusal
from tasks.reporting.report import all_zero, details, html_table
from tasks.reporting.verdicts import (NOT_JUDGED, REGRESSED, rule_text, sample_verdicts, set_verdicts, shared_conditions,
                                      worst_change)

VERDICT_COLUMNS = ["model", "metric", "group", "previous", "current", "change", "ci_low", "ci_high", "n", "tolerance", "verdict", "why"]


def _verdicts(store: Store, prepared: Prepared, baseline: str, scores: list[dict], metrics: list[dict]) -> tuple[list[dict], dict]:
    """Paired verdicts against the baseline run on the conditions both have, and how many those are."""
    spec, tolerance = prepared.spec, prepared.spec.regression.tolerance
    groups = {c.condition_id: list(c.groups) for c in prepared.conditions}
    clamped = frozenset(m.name for m in enabled_metrics(spec) if m.aggregate == "clamped-mean")
    verdicts = sample_verdicts(read_run_table(store, baseline, "scores"), scores, lambda c: groups.get(c, []), tolerance,
                               spec.metrics.bootstrap, spec.metrics.bootstrap_seed, spec.metrics.min_group_conditions, clamped)
    verdicts += set_verdicts(read_run_table(store, baseline, "metrics"), metrics, tolerance)
    return verdicts, shared_conditions(read_run_table(store, baseline, "conditions"), [c.to_row() for c in prepared.conditions])


def against_baseline(ctx: RunContext, scores: list[dict], shown: list[dict]) -> dict:
    """The run against its baseline: which run and why, or why none; the verdict rows, the run's verdict,
    the rule, the worst change, and which library versions differ."""
    store, spec = ctx.store, ctx.spec
    extractors, provenance = extractor_record(ctx), run_provenance(ctx.device)
    baseline = baseline_run(store, spec.name, ctx.run_id)
    out = {"previous_run": None, "baseline_why": None, "baseline_refused": None, "library_note": "", "regressions": [],
           "shared_conditions": None, "extractors": extractors, "provenance": provenance,
           "verdict_rule": rule_text(spec.metrics.min_group_conditions, spec.regression.tolerance)}
    if baseline is None:
        return {**out, "verdict": run_verdict([]), "worst_change": None}
    before = read_run_summary(store, baseline["run_id"])
    changes = extractor_changes(before.get("extractors"), extractors)
    if changes:
        return {**out, "verdict": run_verdict([]), "worst_change": None, "baseline_refused": refusal(baseline["run_id"], changes)}
    verdicts, shared = _verdicts(store, ctx.prepared, baseline["run_id"], scores, shown)
    return {**out, "previous_run": baseline["run_id"], "baseline_why": baseline["why"], "regressions": verdicts,
            "shared_conditions": shared, "verdict": run_verdict(verdicts), "worst_change": worst_change(verdicts),
            "library_note": library_note(before.get("provenance"), provenance)}


def comparable_history(store: Store, spec_name: str, extractors: dict) -> tuple[list[dict], str]:
    """The spec's history rows of runs measured with the same extractors (or from before they were recorded)."""
    rows = read_history(store, spec_name)
    records = {run: read_run_summary(store, run).get("extractors") for run in dict.fromkeys(r["run_id"] for r in rows)}
    keep, note = comparable_runs(records, extractors)
    return [r for r in rows if r["run_id"] in keep], note


def shared_note(shared: dict | None) -> str:
    return "no baseline" if shared is None else f"{shared['shared']} shared of {shared['of']} conditions compared"


def baseline_section(judged: dict) -> str:
    """The verdict rows against the baseline, judged ones first, with the rule they follow ('' with no baseline)."""
    rows = judged["regressions"]
    if judged["baseline_refused"]:
        return f"<h3>Against the baseline</h3><p class='warn'>{html.escape(judged['baseline_refused'])}</p>"
    if not rows:
        return ""
    if all_zero(rows, ["change", "ci_low", "ci_high"]):  # a table of zeros says less than this sentence
        return (f"<h3>Against the baseline</h3><p>Against baseline run {html.escape(judged['previous_run'])}: every one "
                f"of the {len(rows)} changes is 0 (the same scores on the {shared_note(judged['shared_conditions'])}).</p>")
    judged_rows = [r for r in rows if r["verdict"] != NOT_JUDGED]
    skipped = [r for r in rows if r["verdict"] == NOT_JUDGED]
    caption = (f"Against baseline run {judged['previous_run']} ({judged['baseline_why']}; "
               f"{shared_note(judged['shared_conditions'])})")
    colour = lambda r: "bad" if r["verdict"] == REGRESSED else ""  # noqa: E731
    parts = [f"<h3>Against the baseline</h3><p>Rule: {html.escape(judged['verdict_rule'])}</p>",
             html_table(judged_rows, VERDICT_COLUMNS, caption, colour)]
    if skipped:
        parts.append(details(f"{len(skipped)} rows shown, not judged (too few conditions or no CI)",
                             html_table(skipped, VERDICT_COLUMNS)))
    return "".join(parts)
