"""The import stage: images made elsewhere into the store, as generation writes its own (PNG by key, then rows)."""

from __future__ import annotations

import json
import platform
import time

import PIL

from artifacts import tables
from artifacts.errors import BadInput
from artifacts.images import png_bytes
from artifacts.keys import sha256_bytes
from artifacts.store import Store, image_rel
from tasks.extractors.preprocess import decode_image
from tasks.inputs.outside_images import read_outside
from tasks.values.units import GenerationBatch


def import_missing(store: Store, batch: GenerationBatch, progress=None) -> int:
    """Read, decode and PNG-encode each item of an outside batch, write the PNGs, then its table rows; return how many.

    The PNG must be the one planning saw (its sha256 is in the plan): a file changed in between is bad input,
    not a silent mix of two versions.
    """
    source, items = batch.outside, batch.items
    if not items:
        return 0
    rows = read_outside(source.images, source.base_dir, source.task, source.who)
    conditions = batch.condition_map()
    meta = {"model_fingerprint": batch.model.fingerprint, "pipeline": batch.variant.pipeline, "device": "none", "dtype": "uint8",
            "params": json.dumps({"images": source.images.model_dump()}, sort_keys=True),
            "versions": json.dumps({"pillow": PIL.__version__, "python": platform.python_version()}, sort_keys=True)}
    task = progress.add_task(f"import {batch.variant.variant_id}", total=len(items)) if progress else None
    out = []
    for item in items:
        index, expected = source.rows[item.key]
        row = rows[index]
        image = decode_image(row.load(), row.source)
        data = png_bytes(image)
        if sha256_bytes(data) != expected:
            raise BadInput(f"{row.source}: the image changed since the run was planned; run again")
        store.write_bytes(image_rel(item.key), data, durable=False)  # its sha256 in the table row is the check
        out.append({"key": item.key, "model": item.model, "variant": item.variant_id, "condition_id": item.condition_id,
                    "prompt": conditions[item.condition_id].text, "seed": item.seed, "sample_index": item.sample_index,
                    "width": image.width, "height": image.height, "sha256": expected, "seconds": float("nan"),
                    "source": row.source, "created": time.time(), **meta})
        if task is not None:
            progress.advance(task, 1)
    tables.append(store, tables.GENERATIONS, out)
    return len(items)
