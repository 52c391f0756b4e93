"""Extractors: a name, a fingerprint (weights + preprocessing), what they read, and a batch function.

An Extractor is made for one run (its fingerprint depends on the model it resolved and the spec's
preprocessing); a Job names the inputs one metric needs it to read. The extract stage merges the
jobs of every enabled metric by fingerprint, so an input two metrics share is read once, and the
feature cache (artifacts/features.py) computes only what it has never seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal

import numpy as np

from artifacts.store import Store
from artifacts import features as cache

Reads = Literal["images", "texts"]


@dataclass(frozen=True)
class Extractor:
    """`batch` turns a list of inputs into named [n, d] arrays: (content sha256, encoded image bytes)
    pairs when it reads images, texts when it reads texts. `fingerprint` names its feature table:
    anything that changes its values (weights, preprocessing, layer) must change it."""

    name: str
    fingerprint: str
    reads: Reads
    batch: Callable[[list[Any]], dict[str, np.ndarray]]
    batch_size: int = 32


@dataclass(frozen=True)
class Job:
    """An extractor and the inputs to read: content sha256 -> store path (images) or the text itself (texts)."""

    extractor: Extractor
    inputs: dict[str, str] = field(default_factory=dict)


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
