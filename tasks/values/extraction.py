"""Extractor and Job: what a metric asks the extract stage for (tasks/extractors/registry.py runs them).

An Extractor is made for one run (its fingerprint depends on the model it resolved and the spec's
preprocessing); a Job names the inputs one metric needs it to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

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
