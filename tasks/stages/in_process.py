"""One evaluation in this process, without Prefect: generate with a pipeline already in memory, extract,
score and close the run (the same stages, keys, store and run folder as the flow)."""

from __future__ import annotations

from contextlib import contextmanager

import torch

from artifacts import tables
from artifacts.store import Store
from tasks.generation.generate import generate_calls, generation_meta
from tasks.models.resolve import scheduler_class
from tasks.values.context import RunContext
from tasks.plan.prepare import Prepared
from artifacts.run_ids import new_run_id
from tasks.reporting.summary import finish_run
from tasks.stages import run as stages


@contextmanager
def _scheduler(pipe, name: str | None):
    """The spec's scheduler swapped in for the calls, the pipeline's own put back after."""
    if not name:
        yield
        return
    own = pipe.scheduler
    pipe.scheduler = scheduler_class(name).from_config(own.config)
    try:
        yield
    finally:
        pipe.scheduler = own


def generate_with(pipe, store: Store, prepared: Prepared) -> int:
    """Generate the run's missing images with `pipe` (calls of batch_size, per-image seeds); return how many."""
    made = 0
    pipe.set_progress_bar_config(disable=True)
    for batch in stages.missing_batches(store, prepared, size=10**9):
        gen, meta = batch.variant.settings, generation_meta(batch)
        with _scheduler(pipe, gen.scheduler), torch.inference_mode():
            for start in range(0, len(batch.items), gen.batch_size):
                made += len(generate_calls(pipe, store, batch, batch.items[start : start + gen.batch_size], meta))
    return made


def evaluate_in_process(pipe, store: Store, prepared: Prepared) -> dict:
    """Generate what is missing with `pipe`, extract, score and write the run; return the run summary."""
    generated = generate_with(pipe, store, prepared)
    planned = len({i.key for i in prepared.items})
    counts = {"images_planned": planned, "images_generated": generated, "images_reused": planned - generated}
    rows = stages.generated_rows(store, prepared)
    ctx = RunContext(store, prepared, {k: r["sha256"] for k, r in rows.items()}, new_run_id(prepared.spec.name))
    extracted, reused = stages.extract_stage(ctx)
    counts |= {"features_extracted": extracted, "features_reused": reused}
    summary = finish_run(ctx, counts, stages.score_stage(ctx))
    tables.compact_all(store)
    return summary
