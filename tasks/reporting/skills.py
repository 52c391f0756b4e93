"""Per-skill outputs: paired comparisons per group, GenEval's upstream summary and per-image reasons.

A group is whatever a prompt set tags its prompts with (PartiPrompts' challenges and categories,
DrawBench's categories, GenEval's tasks as `challenge:<task>`); the metric rows per group (with CIs)
come from tasks/metrics/aggregate.py. This adds what a skill breakdown needs besides: a paired
comparison of two models per group (same prompts and seeds), and for GenEval upstream's
summary_scores.py table and each image's pass/fail reason. Each is a run table (Parquet), a report
section, and (per group) rows the terminal prints for the compositional metrics.
"""

from __future__ import annotations

from typing import Callable

from tasks.metrics.aggregate import compare_samples, group_order
from tasks.values.names import GENEVAL, GROUP_ALL, VQASCORE
from tasks.reporting.report import html_table

GROUP_COMPARISON_COLUMNS = ("a", "b", "metric", "group", "diff", "ci_low", "ci_high", "win_rate", "n")
GENEVAL_SUMMARY_COLUMNS = ("model", "task", "score", "correct", "images")
GENEVAL_RESULT_COLUMNS = ("model", "prompt", "tag", "correct", "reason")
# The metrics whose per-group rows the terminal prints after the `all` table (they are read per skill).
PER_SKILL_METRICS = (GENEVAL, VQASCORE)


def compare_by_group(samples: list[dict], metric: str, pairs: list[tuple[str, str]], groups_of: Callable[[str], list[str]],
                     resamples: int = 1000, seed: int = 0) -> list[dict]:
    """Paired differences a - b within each group (other than `all`), on the samples both variants have there."""
    members: dict[str, list[dict]] = {}
    for s in samples:
        for group in groups_of(s["condition_id"]):
            members.setdefault(group, []).append(s)
    rows = []
    for group in sorted(members, key=group_order):
        for row in compare_samples(members[group], metric, pairs, resamples, seed):
            rows.append({**row, "group": group})
    return rows


def group_comparison_section(rows: list[dict]) -> str:
    """The per-group paired comparisons as a report table ('' when there are none)."""
    if not rows:
        return ""
    return html_table(rows, list(GROUP_COMPARISON_COLUMNS), "Paired comparisons per group (skill, task, category): a − b on "
                      "the same prompts and seeds of that group")


def geneval_sections(summary: list[dict], results: list[dict], failures_shown: int = 50) -> list[str]:
    """GenEval's per-task table as upstream prints it, and the first failing images with their reasons."""
    failed = [{**r, "model": r["variant"]} for r in results if not r["correct"]][:failures_shown]
    return [html_table(summary, list(GENEVAL_SUMMARY_COLUMNS), "GenEval per task (summary_scores.py: share of correct images "
                       "per task; overall = mean of the task scores)"),
            html_table(failed, list(GENEVAL_RESULT_COLUMNS), f"GenEval: failing images and why (first {failures_shown}; all in "
                       "geneval_results.parquet)") if failed else ""]


def skill_tables(ctx, samples_by_metric: dict[str, list[dict]], pairs: list[tuple[str, str]], boot: dict) -> dict[str, list[dict]]:
    """Run tables {name: rows} of the per-skill view of a run's sample metrics (the score stage keeps them)."""
    groups = {c.condition_id: [g for g in c.groups if g != GROUP_ALL] for c in ctx.conditions}
    tables: dict[str, list[dict]] = {}
    compared = [row for metric, samples in samples_by_metric.items()
                for row in compare_by_group(samples, metric, pairs, groups.__getitem__, **boot)] if pairs else []
    if compared:
        tables["group_comparisons"] = compared
    if GENEVAL in samples_by_metric:
        from tasks.metrics.geneval import geneval_results, geneval_summaries

        results = geneval_results(ctx)
        tables["geneval_summary"] = geneval_summaries(results)
        tables["geneval_results"] = [{k: r[k] for k in ("key", "variant", "prompt", "tag", "correct", "reason")} for r in results]
    return tables


def skill_sections(tables: dict[str, list[dict]]) -> list[str]:
    """The report sections of those tables."""
    sections = [group_comparison_section(tables.get("group_comparisons", []))]
    if "geneval_summary" in tables:
        sections += geneval_sections(tables["geneval_summary"], tables["geneval_results"])
    return [s for s in sections if s]
