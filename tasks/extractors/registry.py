"""Running extractors (tasks/values/extraction.py: Extractor, Job): the extract stage merges the
jobs of every enabled metric by fingerprint, so an input two metrics share is read once, and the
feature cache (artifacts/features.py) computes only what it has never seen.
"""

from __future__ import annotations

from typing import Iterable

from artifacts.store import Store
from artifacts import features as cache
from tasks.values.extraction import Extractor, Job  # noqa: F401 (the extractors' names)


def merge_jobs(jobs: Iterable[Job]) -> list[Job]:
    """One job per fingerprint, inputs united in first-seen order (what two metrics share is read once)."""
    merged: dict[str, Job] = {}
    for job in jobs:
        seen = merged.get(job.extractor.fingerprint)
        merged[job.extractor.fingerprint] = job if seen is None else Job(seen.extractor, {**seen.inputs, **job.inputs})
    return list(merged.values())


def run_job(store: Store, job: Job, progress=None) -> tuple[int, int]:
    """Cache the extractor's features of every input it lacks; return (extracted, reused)."""
    ex, inputs = job.extractor, job.inputs
    if ex.reads == "images":
        load = lambda shas: [(s, store.read_bytes(inputs[s], s)) for s in shas]  # noqa: E731
    else:
        load = lambda shas: [inputs[s] for s in shas]  # noqa: E731
    return cache.extract_missing(store, ex.fingerprint, list(inputs), load, ex.batch, ex.batch_size, progress)
