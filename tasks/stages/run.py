"""The stages of one evaluation as pure functions: plan the batches, generate, extract, score. The flow wires them.

Extraction and scoring iterate the metric registry (tasks/values/metric.py): no metric is named here.
"""

from __future__ import annotations

import math
from dataclasses import replace

from artifacts.features import cached_shas
from artifacts.store import Store
from tasks.extractors.registry import merge_jobs, run_job
from tasks.generation.generate import generate_missing
from tasks.generation.import_images import import_missing
from tasks.metrics.aggregate import aggregate_samples, compare_samples, comparison_pairs
from tasks.metrics.group_size import flag_small_groups, shown_rows
from tasks.values.metric import enabled_metrics
from tasks.values.context import RunContext
from tasks.plan.keys import existing_images, split_missing
from tasks.plan.prepare import Prepared
from tasks.values.units import GenerationBatch, Item
from tasks.stages.sets import score_sets
from tasks.values.scored import Scored
from tasks.reporting.checkpoints import best_steps
from tasks.reporting.skills import skill_tables


def missing_batches(store: Store, prepared: Prepared, size: int) -> list[GenerationBatch]:
    """The images still to generate, as batches of at most `size` items of one variant each (a key
    shared by two variants is made once, by the first)."""
    existing = existing_images(store, {i.key for i in prepared.items})
    missing, _ = split_missing(prepared.items, existing)
    batches = []
    for variant in prepared.variants:
        mine = [i for i in missing if i.variant_id == variant.variant_id]
        for start in range(0, len(mine), size):
            batches.append(prepared.batch(variant, mine[start : start + size]))
    return batches


def spread(batches: list[GenerationBatch], workers: int) -> list[GenerationBatch]:
    """The batches cut (at whole pipeline calls) into about `workers` pieces when there are fewer, so
    that every worker gets some; a piece's calls are the calls its batch would have made."""
    if workers <= 1 or len(batches) >= workers:
        return batches
    total, pieces = sum(len(b.items) for b in batches), []
    for batch in batches:
        calls = batch.variant.settings.batch_size
        size = max(calls, math.ceil(total / workers / calls) * calls)
        pieces += [replace(batch, items=batch.items[start : start + size]) for start in range(0, len(batch.items), size)]
    return pieces


def generate_batch(store: Store, batch: GenerationBatch, progress=None) -> int:
    """Generate the images of one batch (the pipeline is loaded only when needed), or import them when they
    were made elsewhere; return how many."""
    if batch.outside is not None:
        return import_missing(store, batch, progress)
    return generate_missing(store, batch, progress)


def generated_rows(store: Store, prepared: Prepared) -> dict[str, dict]:
    """key → generation row for every item of the run (all must exist after generation)."""
    rows = existing_images(store, {i.key for i in prepared.items}, verify=False)
    absent = [i.key for i in prepared.items if i.key not in rows]
    if absent:
        raise RuntimeError(f"{len(absent)} planned images are missing after generation (first: {absent[0]})")
    return rows


def _jobs(ctx: RunContext) -> list:
    """The enabled metrics' extraction jobs, merged by extractor fingerprint (an input two metrics read counts once)."""
    return merge_jobs(j for m in enabled_metrics(ctx.spec) for j in m.jobs(ctx))


def extract_stage(ctx: RunContext, progress=None) -> tuple[int, int]:
    """Extract every feature the enabled metrics need that the cache lacks; return (extracted, reused)."""
    counts = [run_job(ctx.store, job, progress) for job in _jobs(ctx)]
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def all_in_store(store: Store, prepared: Prepared) -> tuple[dict, dict] | None:
    """When every image of the run and every feature its metrics need are in the store: (counts, rows) as the
    extract stage would give them (nothing extracted), so that a warm re-run needs no extract step; else None."""
    rows = existing_images(store, {i.key for i in prepared.items}, verify=False)
    if any(i.key not in rows for i in prepared.items):
        return None
    ctx = RunContext(store, prepared, {k: r["sha256"] for k, r in rows.items()})
    reused = 0
    for job in _jobs(ctx):
        cached = cached_shas(store, job.extractor.fingerprint)
        if any(sha not in cached for sha in job.inputs):
            return None
        reused += len(job.inputs)
    return {"features_extracted": 0, "features_reused": reused}, rows


def sample_rows(items: tuple[Item, ...], metric: str, values) -> list[dict]:
    """One score row per item: its image, variant, condition, seed and sample, and the metric's value."""
    return [{"key": i.key, "variant": i.variant_id, "condition_id": i.condition_id, "seed": i.seed,
             "sample_index": i.sample_index, "metric": metric, "value": float(v)} for i, v in zip(items, values)]


def score_stage(ctx: RunContext) -> Scored:
    """Per-image scores aggregated per variant and group and compared in pairs; set metrics per variant."""
    spec, out = ctx.spec, Scored()
    groups = {c.condition_id: list(c.groups) for c in ctx.conditions}
    pairs = comparison_pairs(ctx.variants)
    boot = dict(resamples=spec.metrics.bootstrap, seed=spec.metrics.bootstrap_seed)
    metrics = enabled_metrics(spec)
    by_metric = {}
    for metric in (m for m in metrics if m.kind == "sample"):
        # NaN: not scored (text rendering of a prompt that asks for no text); left out, not counted as a value
        samples = [s for s in sample_rows(ctx.items, metric.name, metric.score(ctx)) if not math.isnan(s["value"])]
        by_metric[metric.name] = samples
        out.scores += samples
        out.metrics += aggregate_samples(samples, metric.name, groups.__getitem__, **boot, clamp=metric.aggregate == "clamped-mean")
        out.comparisons += compare_samples(samples, metric.name, pairs, **boot)
    out.tables = skill_tables(ctx, by_metric, pairs, boot)
    sets = [m for m in metrics if m.kind == "set"]
    if sets:
        out.metrics += score_sets(ctx, sets)
    out.metrics = flag_small_groups(out.metrics, spec.metrics.min_group_images)
    out.best_steps = best_steps(shown_rows(out.metrics), out.scores, ctx.variants, **boot)
    return out
