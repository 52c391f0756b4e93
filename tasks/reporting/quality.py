"""Report sections of the aesthetic and text-rendering metrics: which head scored, OneIG's text score, what was left out."""

from __future__ import annotations

import html


def text_rendering_rows(ctx) -> tuple[list[dict], int, int]:
    """Per variant OneIG's text score, and (prompts asking for text, prompts left out)."""
    from tasks.metrics.text_rendering import asked_strings, item_scores, oneig_text_score

    by: dict[str, list[tuple[str, dict]]] = {}
    for item, s in zip(ctx.items, item_scores(ctx)):
        if s is not None:
            by.setdefault(item.variant_id, []).append((item.condition_id, s))
    rows = [{"model": variant, "text score (OneIG)": round(oneig_text_score(*([s[k] for _, s in done] for k in
                                                                            ("edit_distance", "completion", "matched", "words"))), 4),
             "images": len(done), "prompts": len({c for c, _ in done})} for variant, done in by.items()]
    asking = sum(1 for c in ctx.conditions if asked_strings(ctx.spec, c))
    return rows, asking, len(ctx.conditions) - asking


def quality_sections(ctx) -> list[str]:
    """The sections of whichever of the two metrics the spec enables."""
    from tasks.reporting.report import html_table

    out, metrics = [], ctx.spec.metrics
    if metrics.aesthetic is not None:
        from tasks.metrics.aesthetic import checkpoint_record

        out.append(html_table([checkpoint_record(ctx.spec)], ["metric", "checkpoint", "sha256", "head"], "Aesthetic predictor"))
    if metrics.text_rendering is not None:
        rows, asking, left = text_rendering_rows(ctx)
        where = f"column {metrics.text_rendering.column}" if metrics.text_rendering.column else "quoted strings"
        note = (f"<p>{asking} prompt(s) ask for text ({html.escape(where)}); {left} without text left out of the text metrics. "
                f"OCR: {html.escape(metrics.text_rendering.reader)} {html.escape(metrics.text_rendering.model)}.</p>")
        out.append(html_table(rows, ["model", "text score (OneIG)", "images", "prompts"], "Text rendering") + note)
    return out
