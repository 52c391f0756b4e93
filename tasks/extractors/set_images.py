"""What every set-metric extractor shares: real and generated images through the spec's preprocessing,
NaN rows for images the `skip` rule drops, and one job over the run's reference and generated images."""

from __future__ import annotations

from typing import Callable

import numpy as np

from artifacts.store import ref_rel
from tasks.extractors.preprocess import Preprocess, decode_image, image_to_uint8
from tasks.extractors.registry import Extractor, Job


def preprocessed_batch(pairs: list[tuple[str, bytes]], pre: Preprocess, sources: dict[str, str], dims: dict[str, int],
                       compute: Callable[[list[np.ndarray]], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """(sha, bytes) pairs -> named [n, d] arrays: decoded and preprocessed as the FID Inception sees them,
    then `compute` on the uint8 HWC arrays kept; a dropped image gets a NaN row (remembered, not retried)."""
    arrays = [image_to_uint8(decode_image(data, sources.get(sha, sha)), pre, sources.get(sha, sha)) for sha, data in pairs]
    out = {name: np.full((len(pairs), dim), np.nan, np.float32) for name, dim in dims.items()}
    kept = [i for i, arr in enumerate(arrays) if arr is not None]
    if kept:
        for name, values in compute([arrays[i] for i in kept]).items():
            out[name][kept] = values
    return out


def set_job(ctx, extractor: Extractor) -> Job:
    """`extractor` over the run's reference images and every generated image."""
    refs = ctx.prepared.references
    return Job(extractor, {**{r["sha256"]: ref_rel(r["sha256"]) for r in refs}, **ctx.generated_images()})


def sources_of(ctx) -> dict[str, str]:
    """Reference content sha256 -> its file or row, for error messages."""
    return {r["sha256"]: r["source"] for r in ctx.prepared.references}
