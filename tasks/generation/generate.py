"""Batched generation of the missing images: per-image generators, atomic PNGs, one table part per batch."""

from __future__ import annotations

import functools
import json
import logging
import time
from contextlib import nullcontext
from typing import Any, Callable

import torch
from rich.markup import escape as rich_escape

from artifacts import claims, tables
from artifacts.images import png_bytes
from artifacts.keys import derive_seed, sha256_bytes
from artifacts.store import Store, image_rel, ref_rel
from tasks.models import pix2pix_zero
from tasks.inputs.edit_conditions import prompt_role
from tasks.inputs.edits import source_to_generation_image
from tasks.models.checkpoints import CheckpointModel, load_checkpoint
from tasks.models.resolve import ResolvedModel, library_versions, load_pipeline
from tasks.values.units import GenerationBatch, Item
from tasks.spec import GenerationSpec

log = logging.getLogger("diffeval")


@functools.lru_cache(maxsize=1)  # the last pipeline stays: GPU memory holds one at a time
def cached_pipeline(model: ResolvedModel, pipeline: str, scheduler: str | None, dtype: str, device: str):
    """Load a pipeline once per process, and only when some image of it is missing."""
    if isinstance(model, CheckpointModel):  # one step of a checkpoints: folder, assembled on its base
        return load_checkpoint(model, pipeline, scheduler, dtype, device)
    return load_pipeline(model, pipeline, scheduler, dtype, device)


def image_generators(items: tuple[Item, ...] | list[Item]) -> list[torch.Generator]:
    """One CPU generator per image, seeded from (seed, sample index): an image never depends on its batch."""
    return [torch.Generator("cpu").manual_seed(derive_seed(i.seed, i.sample_index)) for i in items]


def call_arguments(batch: GenerationBatch, conditions: list[dict], store: Store, source_image: Callable) -> dict:
    """The keyword arguments of one batched pipeline call: the pixel settings the plan decided the pipeline takes
    (`GenerationBatch.pipeline_settings`, those the key holds), those that are set, and the conditions."""
    settings, gen = batch.pipeline_settings(), batch.variant.settings
    args: dict[str, Any] = {"num_inference_steps": settings["steps"], "output_type": "pil"}
    args.update({k: settings[k] for k in ("guidance_scale", "height", "width", "image_guidance_scale", "strength")
                 if settings.get(k) is not None})
    negative = settings.get("negative_prompt")
    first = conditions[0]
    if "class_id" in first:
        args["class_labels"] = [c["class_id"] for c in conditions]
    if "prompt" in first:
        args["prompt"] = [c["prompt"] for c in conditions]
    if "source_sha256" in first:
        role = prompt_role(batch.variant.pipeline)
        args["prompt"] = [c[role] for c in conditions]
        args["image"] = [source_image(store.read_bytes(ref_rel(c["source_sha256"]), c["source_sha256"]), gen) for c in conditions]
    if "prompt" in args and negative is not None:
        args["negative_prompt"] = [negative] * len(conditions)
    return args


def generate_calls(pipe, store: Store, batch: GenerationBatch, items: tuple[Item, ...], meta: dict) -> list[dict]:
    """Generate one pipeline call's images, write its PNGs, then its table rows (the rows mark the images complete)."""
    gen, conditions = batch.variant.settings, batch.condition_map()
    inputs = [conditions[i.condition_id].inputs for i in items]
    args = call_arguments(batch, inputs, store, _source_rule(batch.source_resize))
    started = time.perf_counter()
    images = pix2pix_zero.call_images(pipe, batch.variant.pipeline, gen, inputs, args, image_generators(items))
    seconds = (time.perf_counter() - started) / len(items)
    rows = []
    for item, image in zip(items, images):
        data = png_bytes(image)
        store.write_bytes(image_rel(item.key), data, durable=False)  # its sha256 in the table row is the check
        rows.append({
            "key": item.key, "model": item.model, "variant": item.variant_id,
            "condition_id": item.condition_id, "prompt": conditions[item.condition_id].text, "seed": item.seed,
            "sample_index": item.sample_index, "width": image.width, "height": image.height,
            "sha256": sha256_bytes(data), "seconds": seconds, **meta,
        })
    tables.append(store, tables.GENERATIONS, rows)
    return rows


def generation_meta(batch: GenerationBatch) -> dict:
    """What each generation row records beside its image: the model, pipeline, device, settings and versions."""
    variant, gen = batch.variant, batch.variant.settings
    return {"model_fingerprint": batch.model.fingerprint, "pipeline": variant.pipeline, "device": variant.device,
            "dtype": variant.dtype, "params": json.dumps(gen.model_dump(exclude={"seeds", "batch_size", "device"}), sort_keys=True),
            "versions": json.dumps(library_versions(), sort_keys=True), "created": time.time()}


def generate_missing(store: Store, batch: GenerationBatch, progress=None) -> int:
    """Generate the items of a batch in pipeline calls of settings.batch_size, each call's items under a
    lease (no worker of any run makes them meanwhile); return how many this worker made."""
    items, variant, model = batch.items, batch.variant, batch.model
    if not items:
        return 0
    gen = variant.settings
    meta = generation_meta(batch)
    # escaped: rich would read `[train_step=100]` in a label as markup and drop it
    task = progress.add_task(f"generate {rich_escape(variant.variant_id)}", total=len(items)) if progress else None

    def work(chunk: list[Item]) -> None:
        # Loaded on the first call this worker leases (never, when others hold them all), then kept.
        pipe = cached_pipeline(model, variant.pipeline, gen.scheduler, variant.dtype, variant.device)
        grad = variant.device == "mps" or pix2pix_zero.needs_gradients(variant.pipeline)
        with nullcontext() if grad else torch.inference_mode():
            generate_calls(pipe, store, batch, tuple(chunk), meta)
        if progress:
            progress.advance(task, len(chunk))

    chunks = [list(items[start : start + gen.batch_size]) for start in range(0, len(items), gen.batch_size)]
    made = claims.work_claimed(store, "generate", chunks, work, claims.generation_watch(store).done)
    if progress:
        progress.update(task, completed=len(items))  # what other workers made counts as done too
    return made


def _source_rule(resize: str | None) -> Callable:
    """(source bytes, generation settings) → the PIL image a pipeline gets, by the batch's declared rule."""
    if resize is None:
        return _no_source
    return lambda data, gen: source_to_generation_image(data, gen.width, gen.height, resize)


def _no_source(data: bytes, gen: GenerationSpec):
    raise RuntimeError("a source image was referenced but the batch names no source rule (a bug in the caller)")
