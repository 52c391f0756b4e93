"""Edit strength against fidelity: per model, a table and a heatmap of each edit metric over two swept axes."""

from __future__ import annotations

import html

from artifacts.store import run_rel
from tasks.values.names import CLIP_CONSISTENCY, CLIP_DIRECTIONAL
from tasks.values.context import RunContext
from tasks.reporting.heatmap import grid_to_heatmap_png
from tasks.reporting.report import html_table
from tasks.reporting.sweeps import heatmap_grid, swept_axes

TRADE_OFF_AXES = (("image_guidance_scale", "guidance_scale"), ("strength", "guidance_scale"), ("image_guidance_scale", "strength"))
TRADE_OFF_METRICS = (CLIP_DIRECTIONAL, CLIP_CONSISTENCY)


def trade_off_sections(ctx: RunContext, metric_rows: list[dict]) -> list[str]:
    """Per model, a table and a heatmap per edit metric over the first pair of guidance axes the run sweeps."""
    swept = swept_axes(ctx.variants)
    axes = next(((r, c) for r, c in TRADE_OFF_AXES if r in swept and c in swept), None)
    if axes is None:
        return []
    sections = []
    for model in dict.fromkeys(v.model for v in ctx.variants):
        for metric in TRADE_OFF_METRICS:
            grid, rows, cols, noise = heatmap_grid(metric_rows, ctx.variants, model, metric, axes)
            if not rows:
                continue
            name = f"heatmap-{model}-{metric}.png".replace("/", "_")
            png = grid_to_heatmap_png(grid, rows, cols, f"{model} · {metric}", axes[0], axes[1], noise)
            ctx.store.write_bytes(run_rel(ctx.run_id, name), png)
            table = [{axes[0]: r, **{f"{axes[1]}={c}": grid[i][j] for j, c in enumerate(cols)}} for i, r in enumerate(rows)]
            # The heatmap itself is embedded among the report's plots; the PNG stays beside it as a file to share.
            sections.append(f"<h3>{html.escape(model)} · {metric}</h3><p>Heatmap: <a href='{html.escape(name)}'>{html.escape(name)}</a></p>"
                            + html_table(table, list(table[0]), f"{metric}: rows {axes[0]}, columns {axes[1]}"))
    return ["<h2>Edit strength against fidelity</h2>" + "".join(sections)] if sections else []

