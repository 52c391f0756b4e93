"""CLIP directional similarity and image consistency of edits, and the guidance trade-off heatmaps."""

from __future__ import annotations

import html

from artifacts.keys import sha256_text
from artifacts.store import Store, image_rel, ref_rel, run_rel
from tasks.extractors import cache as features
from tasks.extractors.clip import clip_fingerprints
from tasks.metrics.directional import directional_similarity, image_consistency
from tasks.reporting.heatmap import grid_to_heatmap_png
from tasks.names import CLIP_CONSISTENCY, CLIP_DIRECTIONAL
from tasks.plan.prepare import Prepared
from tasks.reporting.report import html_table
from tasks.stages.clip import extract_clip_features
from tasks.reporting.sweeps import cell_grid

# The guide's DirectionalSimilarity lets the tokenizer truncate long captions (EOS kept).
TRUNCATE = "tokenizer"
TRADE_OFF_AXES = (("image_guidance_scale", "guidance_scale"), ("strength", "guidance_scale"), ("image_guidance_scale", "strength"))


def extract_edit_features(store: Store, prepared: Prepared, rows: dict[str, dict], progress=None) -> tuple[int, int]:
    """Cache CLIP embeddings of sources, edited images and the input/output captions."""
    cfg = prepared.spec.metrics.clip_directional_similarity
    images = {c["meta"]["source_sha256"]: ref_rel(c["meta"]["source_sha256"]) for c in prepared.conditions}
    images |= {rows[i["key"]]["sha256"]: image_rel(i["key"]) for i in prepared.items}
    texts = [c["meta"][k] for c in prepared.conditions for k in ("input", "output")]
    return extract_clip_features(store, prepared.metric_models[CLIP_DIRECTIONAL], images, texts,
                                 prepared.variants[0]["device"], cfg.batch_size, progress, TRUNCATE)


def edit_samples(store: Store, prepared: Prepared, rows: dict[str, dict]) -> list[dict]:
    """Per edited image: directional similarity and image consistency (two score rows)."""
    image_fp, text_fp = clip_fingerprints(prepared.metric_models[CLIP_DIRECTIONAL], TRUNCATE)
    meta = {c["condition_id"]: c["meta"] for c in prepared.conditions}
    items = prepared.items
    src = features.gather(store, image_fp, [meta[i["condition_id"]]["source_sha256"] for i in items])["embed"]
    out = features.gather(store, image_fp, [rows[i["key"]]["sha256"] for i in items])["embed"]
    t_in = features.gather(store, text_fp, [sha256_text(meta[i["condition_id"]]["input"]) for i in items])["embed"]
    t_out = features.gather(store, text_fp, [sha256_text(meta[i["condition_id"]]["output"]) for i in items])["embed"]
    samples = []
    for metric, values in ((CLIP_DIRECTIONAL, directional_similarity(src, out, t_in, t_out)), (CLIP_CONSISTENCY, image_consistency(src, out))):
        samples += [{"key": i["key"], "variant": i["variant"], "condition_id": i["condition_id"], "seed": i["seed"],
                     "sample_index": i["sample_index"], "metric": metric, "value": float(v)} for i, v in zip(items, values)]
    return samples


def trade_off_sections(store: Store, prepared: Prepared, run_id: str, metric_rows: list[dict]) -> list[str]:
    """Per model, a table and a heatmap per metric over the two swept guidance axes (when swept)."""
    swept = {k for k, v in prepared.spec.sweep.model_dump().items() if v and len(v) > 1}
    axes = next(((r, c) for r, c in TRADE_OFF_AXES if r in swept and c in swept), None)
    if axes is None:
        return []
    sections = []
    for model in dict.fromkeys(v["model"] for v in prepared.variants):
        for metric in (CLIP_DIRECTIONAL, CLIP_CONSISTENCY):
            grid, rows, cols = cell_grid(metric_rows, prepared.variants, model, metric, *axes)
            if not rows:
                continue
            name = f"heatmap-{model}-{metric}.png".replace("/", "_")
            store.write_bytes(run_rel(run_id, name), grid_to_heatmap_png(grid, rows, cols, f"{model} · {metric}", axes[0], axes[1]))
            table = [{axes[0]: r, **{f"{axes[1]}={c}": grid[i][j] for j, c in enumerate(cols)}} for i, r in enumerate(rows)]
            sections.append(f"<h3>{html.escape(model)} · {metric}</h3><img src='{html.escape(name)}' alt='{metric} heatmap'>"
                            + html_table(table, list(table[0]), f"{metric}: rows {axes[0]}, columns {axes[1]}"))
    return ["<h2>Edit strength against fidelity</h2>" + "".join(sections)] if sections else []
