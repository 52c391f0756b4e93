"""The report's sections that read the scored rows: edit trade-offs, images made elsewhere, set-metric
records, mean ± sd over seeds, preceded by the per-skill tables (in this order, between the tables and the ignored settings)."""

from __future__ import annotations

from tasks.metrics.group_size import shown_rows
from tasks.reporting.checkpoints import checkpoint_section
from tasks.reporting.fragility import fragility_section
from tasks.reporting.outside_note import outside_section
from tasks.reporting.quality import quality_sections
from tasks.reporting.report import html_table
from tasks.reporting.skills import skill_sections
from tasks.reporting.sweeps import seed_summary
from tasks.reporting.trade_off import trade_off_sections
from tasks.values.context import RunContext
from tasks.values.metric import enabled_metrics
from tasks.values.scored import Scored


def scored_sections(ctx: RunContext, scored: Scored) -> list[str]:
    """The sections of the score stage's rows and tables; heatmap PNGs are written beside the report."""
    metrics = scored.metrics
    sections = [checkpoint_section(shown_rows(metrics), scored.best_steps, ctx.variants)]
    sections += skill_sections(scored.tables)
    sections += trade_off_sections(ctx, metrics)
    sections.append(outside_section(ctx.prepared))
    sections += quality_sections(ctx)
    if any(m.kind == "set" for m in enabled_metrics(ctx.spec)):
        sections.append(fragility_section(shown_rows(metrics)))  # warnings of the rows the report shows
    summary = seed_summary(metrics, ctx.variants)
    if summary:
        sections.append(html_table(summary, ["model", "setting", "metric", "mean", "sd", "n_seeds"], "Mean ± sd over seeds"))
    return sections
