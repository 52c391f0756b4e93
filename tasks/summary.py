"""Closing a run: its tables, report, registry row, regression verdicts and the summary object."""

from __future__ import annotations

import json
import math

from artifacts.store import Store, run_rel
from artifacts.inspect import variant_list
from tasks.metrics import order_groups
from tasks.names import METRIC_COLUMNS, COMPARISON_COLUMNS
from tasks.prepare import Prepared
from tasks.report import fmt_number, html_table, image_grid, write_report
from artifacts.runfiles import read_run_table, register_run, write_run_table
from tasks.baselines import REGRESSED, baseline_run, run_verdict
from tasks.verdicts import REGRESSED as WORSE, sample_verdicts, set_verdicts, shared_conditions


class RegressionFailed(RuntimeError):
    """A metric got worse than the spec's regression tolerance allows (and regression.fail is set)."""

    def __init__(self, summary: dict):
        bad = [f"{v['model']} {v['metric']} {v['previous']:.4f}→{v['current']:.4f}" for v in summary["regressions"] if v["verdict"] == WORSE]
        super().__init__(f"regression against run {summary['previous_run']}: {'; '.join(bad)}")
        self.summary = summary


def _shared_note(shared: dict | None) -> str:
    return "no baseline" if shared is None else f"{shared['shared']} shared of {shared['of']} conditions compared"


def _public(row: dict, columns: tuple) -> dict:
    extra = {k: v for k, v in row.items() if k not in columns}
    return {**{c: row.get(c) for c in columns}, **extra}


def _verdicts(store: Store, prepared: Prepared, baseline: str, scores: list[dict], metrics: list[dict]) -> tuple[list[dict], dict]:
    """Paired verdicts against the baseline run on the conditions both have, and how many those are."""
    spec, tolerance = prepared.spec, prepared.spec.regression.tolerance
    groups = {c["condition_id"]: c["groups"] for c in prepared.conditions}
    verdicts = sample_verdicts(read_run_table(store, baseline, "scores"), scores, lambda c: groups.get(c, []), tolerance,
                               spec.metrics.bootstrap, spec.metrics.bootstrap_seed)
    verdicts += set_verdicts(read_run_table(store, baseline, "metrics"), metrics, tolerance)
    return verdicts, shared_conditions(read_run_table(store, baseline, "conditions"), prepared.conditions)


def finish_run(store: Store, prepared: Prepared, run_id: str, counts: dict, scores: list[dict], metrics: list[dict],
               comparisons: list[dict], sections: list[str]) -> dict:
    """Write the run folder (spec, tables, report, summary.json), register it, return the summary."""
    spec = prepared.spec
    metrics = order_groups(metrics)
    store.write_bytes(run_rel(run_id, "spec.yaml"), open(prepared.spec_path, "rb").read())
    write_run_table(store, run_id, "conditions", [{k: c[k] for k in ("condition_id", "text", "groups", "meta")} for c in prepared.conditions])
    write_run_table(store, run_id, "items", prepared.items)
    write_run_table(store, run_id, "scores", scores)
    write_run_table(store, run_id, "metrics", metrics)
    write_run_table(store, run_id, "comparisons", comparisons)
    baseline = baseline_run(store, spec.name, run_id)
    previous = baseline["run_id"] if baseline else None
    verdicts, shared = _verdicts(store, prepared, previous, scores, metrics) if previous else ([], None)
    verdict = run_verdict(verdicts)
    variants = [v["variant"] for v in prepared.variants]
    page = [
        f"<p>Run <b>{run_id}</b> · task {spec.task} · {counts['images_planned']} images "
        f"({counts['images_generated']} generated, {counts['images_reused']} reused) · "
        f"features {counts['features_extracted']} extracted, {counts['features_reused']} reused</p>",
        html_table(metrics, list(METRIC_COLUMNS), "Metrics (95% bootstrap CI over prompts, classes or edit pairs, – where n < 2; "
                   "FID / KID / IS have none: see their sd over seeds and kid_std / is_std)"),
        html_table(comparisons, list(COMPARISON_COLUMNS), "Paired comparisons (a − b on the same prompts and seeds)"),
        html_table(verdicts, ["model", "metric", "group", "previous", "current", "change", "ci_low", "ci_high", "tolerance", "verdict"],
                   f"Against baseline run {previous} ({baseline['why'] if baseline else 'none'}; {_shared_note(shared)})",
                   lambda r: "bad" if r["verdict"] == WORSE else "good"),
        *sections,
        image_grid(store, run_id, prepared.items, prepared.conditions, variants, sources={
            c["condition_id"]: c["meta"]["source_sha256"] for c in prepared.conditions} if spec.task == "image-to-image" else None,
            seeds=spec.report.grid_seeds),
    ]
    report = write_report(store, run_id, f"diffeval · {spec.name}", page)
    summary = {
        "run_id": run_id, "store": str(store.root), "spec": spec.name, "task": spec.task, "counts": counts,
        "variants": variant_list(prepared.variants),
        "metrics": [_public(m, METRIC_COLUMNS) for m in metrics],
        "comparisons": [_public(c, COMPARISON_COLUMNS) for c in comparisons],
        "previous_run": previous, "baseline_why": baseline["why"] if baseline else None, "verdict": verdict,
        "shared_conditions": shared, "regressions": verdicts, "report": report,
        "regression_failed": spec.regression.fail and verdict == REGRESSED,
    }
    summary_rel = run_rel(run_id, "summary.json")
    store.write_text(summary_rel, json.dumps(summary, indent=2, default=str))
    register_run(store, run_id, spec.name, spec.task, "completed", summary_rel, verdict)
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
    lines += ["", *verdict_markdown(summary)]
    lines += ["", f"Report: `{summary['report']}`"]
    return "\n".join(lines)


def verdict_markdown(summary: dict) -> list[str]:
    """The verdict lines: the baseline and why, then each regressed row with its values, CI and tolerance."""
    if summary["previous_run"] is None:
        return ["Verdict: **passed** (first run of this spec: no baseline yet; the next runs compare with this one)."]
    lines = [f"Verdict: **{summary['verdict']}** against baseline `{summary['previous_run']}` ({summary['baseline_why']}; "
             f"{_shared_note(summary.get('shared_conditions'))})."]
    bad = [v for v in summary["regressions"] if v["verdict"] == WORSE]
    if bad:
        lines += ["", "| model | metric | group | baseline | now | change | 95% CI | tolerance |", "|---|---|---|---|---|---|---|---|"]
        for v in bad:
            ci = "–" if math.isnan(v["ci_low"]) else f"[{v['ci_low']:.4f}, {v['ci_high']:.4f}]"
            lines.append(f"| {v['model']} | {v['metric']} | {v['group']} | {v['previous']:.4f} | {v['current']:.4f} | "
                         f"{v['change']:+.4f} | {ci} | {v['tolerance']:.4f} |")
    return lines
