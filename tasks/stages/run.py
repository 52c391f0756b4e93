"""The stages of one evaluation as pure functions: generate, extract, score. The flow wires them."""

from __future__ import annotations

from artifacts.store import Store, image_rel, ref_rel
from tasks.inputs.edit_conditions import source_image_rule
from tasks.stages.edits import edit_samples, extract_edit_features, trade_off_sections
from tasks.generation.generate import generate_missing
from tasks.stages.sets import (
    extract_inception_features,
    fragility_section,
    score_sets,
    wants_inception,
)
from tasks.metrics.aggregate import aggregate_samples, compare_samples, comparison_pairs
from tasks.names import CLIP_CONSISTENCY, CLIP_DIRECTIONAL, CLIP_SCORE
from tasks.plan.keys import existing_images, split_missing
from tasks.plan.prepare import Prepared
from tasks.reporting.report import html_table
from tasks.stages.clip import clip_score_samples, extract_clip_features
from tasks.reporting.sweeps import seed_summary


def missing_by_variant(store: Store, prepared: Prepared) -> dict[str, list[dict]]:
    """The items each variant still has to generate (a key shared by two variants is made once)."""
    existing = existing_images(store, {i["key"] for i in prepared.items})
    missing, _ = split_missing(prepared.items, existing)
    out: dict[str, list[dict]] = {}
    for item in missing:
        out.setdefault(item["variant"], []).append(item)
    return out


def generate_variant(store: Store, prepared: Prepared, variant: dict, items: list[dict], progress=None) -> int:
    """Generate the missing images of one variant (the pipeline is loaded only when needed)."""
    source_image = source_image_rule(prepared.spec) if prepared.spec.task == "image-to-image" else None
    return generate_missing(store, items, prepared.condition_map(), prepared.models[variant["model"]], variant["pipeline"],
                            variant["gen"], variant["dtype"], variant["device"], source_image, progress)


def generated_rows(store: Store, prepared: Prepared) -> dict[str, dict]:
    """key → generation row for every item of the run (all must exist after generation)."""
    rows = existing_images(store, {i["key"] for i in prepared.items}, verify=False)
    absent = [i["key"] for i in prepared.items if i["key"] not in rows]
    if absent:
        raise RuntimeError(f"{len(absent)} planned images are missing after generation (first: {absent[0]})")
    return rows


def extract_stage(store: Store, prepared: Prepared, rows: dict[str, dict], progress=None) -> tuple[int, int]:
    """Extract every feature the spec's metrics need that the cache lacks; return (extracted, reused)."""
    spec, extracted, reused = prepared.spec, 0, 0
    if spec.metrics.clip_score is not None:
        images = {rows[i["key"]]["sha256"]: image_rel(i["key"]) for i in prepared.items}
        texts = [c["text"] for c in prepared.conditions]
        device = prepared.variants[0]["device"]
        e, r = extract_clip_features(store, prepared.metric_models[CLIP_SCORE], images, texts, device,
                                     spec.metrics.clip_score.batch_size, progress)
        extracted, reused = extracted + e, reused + r
    if spec.metrics.clip_directional_similarity is not None:
        e, r = extract_edit_features(store, prepared, rows, progress)
        extracted, reused = extracted + e, reused + r
    if wants_inception(spec):
        images = {r["sha256"]: ref_rel(r["sha256"]) for r in prepared.references}
        images |= {rows[i["key"]]["sha256"]: image_rel(i["key"]) for i in prepared.items}
        sources = {r["sha256"]: r["source"] for r in prepared.references}
        e, r = extract_inception_features(store, spec, images, sources, prepared.variants[0]["device"], progress=progress)
        extracted, reused = extracted + e, reused + r
    return extracted, reused


def score_stage(store: Store, prepared: Prepared, rows: dict[str, dict], run_id: str) -> tuple[list[dict], list[dict], list[dict], list[str]]:
    """Per-image scores, metric rows per model and group, paired comparisons, extra report sections."""
    spec, scores, metrics, comparisons, sections = prepared.spec, [], [], [], []
    groups = {c["condition_id"]: c["groups"] for c in prepared.conditions}
    pairs = comparison_pairs(prepared.variants)
    boot = dict(resamples=spec.metrics.bootstrap, seed=spec.metrics.bootstrap_seed)
    if spec.metrics.clip_score is not None:
        image_sha = {k: r["sha256"] for k, r in rows.items()}
        text_of = {c["condition_id"]: c["text"] for c in prepared.conditions}
        samples = clip_score_samples(store, prepared.metric_models[CLIP_SCORE], prepared.items, image_sha, text_of)
        scores += samples
        metrics += aggregate_samples(samples, CLIP_SCORE, groups.__getitem__, **boot)
        comparisons += compare_samples(samples, CLIP_SCORE, pairs, **boot)
    if spec.metrics.clip_directional_similarity is not None:
        samples = edit_samples(store, prepared, rows)
        scores += samples
        for metric in (CLIP_DIRECTIONAL, CLIP_CONSISTENCY):
            mine = [x for x in samples if x["metric"] == metric]
            metrics += aggregate_samples(mine, metric, groups.__getitem__, **boot)
            comparisons += compare_samples(mine, metric, pairs, **boot)
        sections += trade_off_sections(store, prepared, run_id, metrics)
    if wants_inception(spec):
        label_of = {c["condition_id"]: c["text"] for c in prepared.conditions}
        image_sha = {k: r["sha256"] for k, r in rows.items()}
        metrics += score_sets(store, spec, prepared.references, prepared.variants, prepared.items, image_sha, label_of)
        sections.append(fragility_section(metrics))
    summary = seed_summary(metrics, prepared.variants)
    if summary:
        sections.append(html_table(summary, ["model", "setting", "metric", "mean", "sd", "n_seeds"], "Mean ± sd over seeds"))
    return scores, metrics, comparisons, sections
