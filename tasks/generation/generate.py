"""Batched generation of the missing images: per-image generators, atomic PNGs, one table part per batch."""

from __future__ import annotations

import inspect
import io
import json
import logging
import time
from contextlib import nullcontext
from typing import Any, Callable

import torch
from PIL import Image

from artifacts import tables
from artifacts.keys import derive_seed, sha256_bytes
from artifacts.store import Store, image_rel, ref_rel
from tasks.generation import pix2pix_zero
from tasks.inputs.edit_conditions import prompt_role
from tasks.models.resolve import ResolvedModel, library_versions, load_pipeline
from tasks.spec import GenerationSpec

log = logging.getLogger("diffeval")
_PIPES: dict[tuple, Any] = {}


def cached_pipeline(model: ResolvedModel, pipeline: str, scheduler: str | None, dtype: str, device: str):
    """Load a pipeline once per process (the last one stays; GPU memory holds one at a time)."""
    memo = (model.fingerprint, pipeline, scheduler, dtype, device)
    if memo not in _PIPES:
        _PIPES.clear()
        _PIPES[memo] = load_pipeline(model, pipeline, scheduler, dtype, device)
    return _PIPES[memo]


def image_generators(items: list[dict]) -> list[torch.Generator]:
    """One CPU generator per image, seeded from (seed, sample index): an image never depends on its batch."""
    return [torch.Generator("cpu").manual_seed(derive_seed(i["seed"], i["sample_index"])) for i in items]


def call_arguments(pipe, gen: GenerationSpec, conditions: list[dict], store: Store, source_image: Callable) -> dict:
    """The keyword arguments of one batched pipeline call, limited to what the pipeline accepts."""
    accepted = inspect.signature(pipe.__call__).parameters
    args: dict[str, Any] = {"num_inference_steps": gen.steps, "output_type": "pil"}
    optional = {"guidance_scale": gen.guidance_scale, "height": gen.height, "width": gen.width,
                "image_guidance_scale": gen.image_guidance_scale, "strength": gen.strength}
    args.update({k: v for k, v in optional.items() if v is not None and k in accepted})
    first = conditions[0]
    if "class_id" in first:
        args["class_labels"] = [c["class_id"] for c in conditions]
    if "prompt" in first:
        args["prompt"] = [c["prompt"] for c in conditions]
        if gen.negative_prompt is not None and "negative_prompt" in accepted:
            args["negative_prompt"] = [gen.negative_prompt] * len(conditions)
    if "source_sha256" in first:
        role = prompt_role(type(pipe).__name__)
        args["prompt"] = [c[role] for c in conditions]
        if gen.negative_prompt is not None and "negative_prompt" in accepted:
            args["negative_prompt"] = [gen.negative_prompt] * len(conditions)
        args["image"] = [source_image(store.read_bytes(ref_rel(c["source_sha256"]), c["source_sha256"]), gen) for c in conditions]
    return args


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def generate_batch(pipe, store: Store, items: list[dict], conditions: dict[str, dict], gen: GenerationSpec, meta: dict, source_image: Callable) -> list[dict]:
    """Generate one batch, write its PNGs, then its table rows (the rows mark the images complete)."""
    args = call_arguments(pipe, gen, [conditions[i["condition_id"]]["condition"] for i in items], store, source_image)
    started = time.perf_counter()
    if type(pipe).__name__ == pix2pix_zero.PIPELINE:
        conds = [conditions[i["condition_id"]]["condition"] for i in items]
        images = pix2pix_zero.edit_images(pipe, gen, conds, args["image"], image_generators(items))
    else:
        images = pipe(generator=image_generators(items), **args).images
    seconds = (time.perf_counter() - started) / len(items)
    rows = []
    for item, image in zip(items, images):
        data = png_bytes(image)
        store.write_bytes(image_rel(item["key"]), data, durable=False)  # its sha256 in the table row is the check
        condition = conditions[item["condition_id"]]
        rows.append({
            "key": item["key"], "model": item["model"], "variant": item["variant"],
            "condition_id": item["condition_id"], "prompt": condition["text"], "seed": item["seed"],
            "sample_index": item["sample_index"], "width": image.width, "height": image.height,
            "sha256": sha256_bytes(data), "seconds": seconds, **meta,
        })
    tables.append(store, tables.GENERATIONS, rows)
    return rows


def generate_missing(store: Store, items: list[dict], conditions: dict[str, dict], model: ResolvedModel, pipeline: str,
                     gen: GenerationSpec, dtype: str, device: str, source_image: Callable | None = None, progress=None) -> int:
    """Generate every item of one variant in batches of gen.batch_size; return how many were made."""
    if not items:
        return 0
    pipe = cached_pipeline(model, pipeline, gen.scheduler, dtype, device)
    meta = {"model_fingerprint": model.fingerprint, "pipeline": pipeline, "device": device, "dtype": dtype,
            "params": json.dumps(gen.model_dump(exclude={"seeds", "batch_size", "device"}), sort_keys=True),
            "versions": json.dumps(library_versions(), sort_keys=True), "created": time.time()}
    task = progress.add_task(f"generate {items[0]['variant']}", total=len(items)) if progress else None
    for start in range(0, len(items), gen.batch_size):
        batch = items[start : start + gen.batch_size]
        # Pix2PixZero's inversion takes gradients; inference mode would forbid them.
        with torch.inference_mode() if device != "mps" and pipeline != pix2pix_zero.PIPELINE else nullcontext():
            generate_batch(pipe, store, batch, conditions, gen, meta, source_image or _no_source)
        if progress:
            progress.advance(task, len(batch))
    return len(items)


def _no_source(data: bytes, gen: GenerationSpec):
    raise RuntimeError("a source image was referenced but no source rule was given (a bug in the caller)")
