"""What `diffeval` prints on stdout: one JSON object for --json, else rows that stay whole at any width.

Rows print as a table only when every cell fits the terminal on one line; otherwise each row becomes a
block of `field  value` lines. Nothing is ever cut, so run ids and keys can be pasted back into the CLI.
Variant labels (`model[seeds=0,steps=2]`) are long, so rows show a short id (v1, v2, ...) and the
settings of each variant are listed once below.
"""

from __future__ import annotations

import json
import math

# Columns that hold a variant label, and the header each gets once the label is a short id.
VARIANT_COLUMNS = {"model": "variant", "a": "a", "b": "b"}
SUMMARY_KEYS = ("run_id", "store", "variants", "counts", "metrics", "comparisons", "report", "previous_run", "verdict",
                "verdict_line", "verdict_rule", "worst_change", "baseline_refused", "library_note", "regressions",
                "group_comparisons", "geneval_summary", "best_steps")


def _plain(value):
    """JSON-safe values: NaN and infinities become null (json.dumps would write the invalid `NaN`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def print_json(obj: dict) -> None:
    """One JSON object on one line of stdout."""
    print(json.dumps(_plain(obj), default=str, allow_nan=False))


def summary_object(summary: dict) -> dict:
    """The public part of a run summary: what `run --json` prints and `demo --json` lists."""
    return {k: summary.get(k) for k in SUMMARY_KEYS}


def _text(value) -> str:
    from tasks.reporting.report import fmt_number

    if value is None:
        return "–"
    if isinstance(value, float):
        return fmt_number(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def variant_ids(variants: list[dict]) -> dict[str, str]:
    """Variant label -> v1, v2, ... in run order (the order of the spec's sweep cells and models)."""
    return {v["variant"]: f"v{i}" for i, v in enumerate(variants, 1)}


def _shown(rows: list[dict], columns: list[str] | None, ids: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Rows as strings with variant labels swapped for their ids; the labels that were swapped."""
    used: dict[str, None] = {}
    shown = []
    for row in rows:
        cells = {}
        for column in columns or list(row):
            value = row.get(column)
            if column in VARIANT_COLUMNS and value in ids:
                used[value] = None
                cells[VARIANT_COLUMNS[column]] = ids[value]
            else:
                cells[column] = _text(value)
        shown.append(cells)
    return shown, list(used)


def _table(shown: list[dict], numeric: set[str]):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for column in shown[0]:
        table.add_column(column, no_wrap=True, justify="right" if column in numeric else "left")
    for cells in shown:
        table.add_row(*(Text(v) for v in cells.values()))
    return table


def print_rows(rows: list[dict], title: str, variants: list[dict] = (), columns: list[str] | None = None) -> list[str]:
    """Print rows under a title: a table when it fits the terminal, else one block per row.

    `variants` (dicts with variant, model, settings, in run order) turn variant labels into v1, v2, ...;
    returns the labels that were shown as ids, for `print_variants`.
    """
    from rich.console import Console

    shown, used = _shown(rows, columns, variant_ids(variants))
    if not shown:
        return used
    console = Console(highlight=False)
    numeric = {c for c in shown[0] if all(isinstance(r.get(c), (int, float)) for r in rows)}
    table = _table(shown, numeric)
    print(title)
    if console.measure(table, options=console.options.update_width(10**6)).maximum <= console.width:
        console.print(table)
        print()
    else:
        width = max(len(c) for c in shown[0])
        for cells in shown:
            print("\n".join(f"  {column:<{width}}  {value}" for column, value in cells.items()), end="\n\n")
    return used


def print_metric_rows(rows: list[dict], title: str, variants: list[dict] = (), columns: list[str] | None = None) -> list[str]:
    """Metric rows as `print_rows` prints them, less the per-group set metrics on too few images (flagged
    `below_min_images`), which one note then counts; returns the labels shown as ids."""
    from tasks.metrics.group_size import left_out_note, shown_rows

    used = print_rows(shown_rows(rows), title, variants, columns)
    note = left_out_note(rows)
    if note:
        print(f"note: {note}\n")
    return used


def print_variants(variants: list[dict], used: list[str]) -> None:
    """Each variant shown as an id, once: its id, model and the settings of its sweep cell."""
    ids = variant_ids(variants)
    if used:
        print("variants:")
    for variant in (v for v in variants if v["variant"] in used):
        settings = ", ".join(f"{k}={v}" for k, v in variant["settings"].items())
        print(f"  {ids[variant['variant']]:<4}{variant['model']}  {settings}".rstrip())


def print_skills(summary: dict, variants: list[dict]) -> list[str]:
    """GenEval's per-task table, then per metric read per skill its rows per group and paired comparisons per group."""
    from tasks.reporting.skills import PER_SKILL_METRICS

    used = print_rows(summary.get("geneval_summary") or [], "GenEval per task (overall = mean of the tasks)", variants,
                      ["model", "task", "score", "correct", "images"])
    for metric in PER_SKILL_METRICS:
        groups = [m for m in summary["metrics"] if m["metric"] == metric and m["group"] != "all"]
        used += print_rows(groups, f"{metric} per skill / task / category", variants, ["model", "group", "value", "ci_low", "ci_high", "n"])
        pairs = [c for c in summary.get("group_comparisons") or [] if c["metric"] == metric]
        used += print_rows(pairs, f"{metric}: paired comparisons per group (a − b)", variants,
                           ["a", "b", "group", "diff", "ci_low", "ci_high", "n"])
    return used


def print_summary(summary: dict) -> None:
    """A finished run for a person: metrics of group `all`, paired comparisons, where the report is."""
    import sys

    from tasks.metrics.group_size import left_out_note

    variants = summary.get("variants") or []
    metrics = [m for m in summary["metrics"] if m["group"] == "all"]
    used = print_rows(metrics, "Metrics (group all; every group: diffeval inspect metrics)", variants,
                      ["model", "metric", "value", "ci_low", "ci_high", "n"])
    note = left_out_note(summary["metrics"])
    if note:
        print(f"note: {note}\n")
    if summary["comparisons"]:
        used += print_rows(summary["comparisons"], "Paired comparisons (a − b)", variants,
                           ["a", "b", "metric", "diff", "ci_low", "ci_high", "win_rate", "n"])
    used += print_skills(summary, variants)
    if summary.get("best_steps"):
        print_rows(summary["best_steps"], "Which checkpoint is best (diff = best − latest step, paired)",
                   columns=["model", "metric", "best_step", "best", "latest_step", "diff", "diff_ci_low", "diff_ci_high", "verdict"])
    print_variants(variants, used)
    print(f"counts: {json.dumps(summary['counts'])}", file=sys.stderr)
    print(f"report: {summary['report']}")
    print(verdict_text(summary))


def verdict_text(summary: dict) -> str:
    """The run's one verdict line (summaries from before it existed: made from their fields)."""
    from tasks.reporting.baselines import verdict_line

    return summary.get("verdict_line") or verdict_line(summary)
