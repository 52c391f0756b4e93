"""Work items: one generation key per image that must exist, diffed against the store."""

from __future__ import annotations

import logging
from typing import Any, Sequence

from artifacts import tables
from artifacts.keys import key_of
from artifacts.store import Store, image_rel
from tasks.models.facts import PipelineFacts
from tasks.models.resolve import ResolvedModel, effective_dtype
from tasks.values.units import Condition, Item, Variant

log = logging.getLogger("diffeval")

# Generation settings that change pixels; everything else (batch size, run name, metrics) stays out.
PIXEL_SETTINGS = ("steps", "guidance_scale", "height", "width", "negative_prompt", "image_guidance_scale", "strength")


def variant_label(model: str, cell: dict[str, Any]) -> str:
    """`model`, or `model[k=v,...]` inside a sweep cell."""
    if not cell:
        return model
    return f"{model}[{','.join(f'{k}={v}' for k, v in cell.items())}]"


def accepted_settings(call_parameters: Sequence[str]) -> tuple[str, ...]:
    """The pixel settings a pipeline's __call__ takes: a setting it ignores cannot change its pixels."""
    return tuple(name for name in PIXEL_SETTINGS if name in call_parameters or name == "steps")


def ignored_settings(call_parameters: Sequence[str], declared: set[str]) -> tuple[str, ...]:
    """The declared or swept pixel settings a pipeline does not take, in PIXEL_SETTINGS order."""
    return tuple(name for name in PIXEL_SETTINGS if name in declared and name not in accepted_settings(call_parameters))


def generation_params(variant: Variant, model: ResolvedModel, facts: PipelineFacts) -> dict[str, Any]:
    """Everything about a variant that changes its pixels (the condition, seed and sample aside)."""
    gen, device_type = variant.settings, variant.device.split(":")[0]
    return {
        "model": model.fingerprint,
        "pipeline": variant.pipeline,
        "scheduler": facts.scheduler_config(model.local_dir, gen.scheduler),
        "dtype": effective_dtype(gen.dtype, device_type),
        "device_type": device_type,
        **{name: getattr(gen, name) for name in variant.taken},  # decided by spec_to_variants
    }


def plan_variant(variant: Variant, resolved: ResolvedModel, conditions: Sequence[Condition], facts: PipelineFacts) -> list[Item]:
    """The work items of one model in one sweep cell: conditions x seeds x samples."""
    gen = variant.settings
    params = generation_params(variant, resolved, facts)
    items = []
    for condition in conditions:
        for seed in gen.seeds:
            for sample in range(gen.images_per_prompt):
                key = key_of({**params, "condition": condition.inputs, "seed": seed, "sample_index": sample})
                items.append(Item(key, variant.variant_id, variant.model, condition.condition_id, seed, sample))
    return items


def existing_images(store: Store, keys: set[str], verify: bool = True) -> dict[str, dict]:
    """Generation rows of `keys` whose PNG is present and matches its checksum; a changed PNG is reported.

    `verify=False` trusts the rows (right after planning verified them); readers still check each
    PNG's checksum when they load it.
    """
    rows = {k: r for k, r in tables.latest_by(tables.read(store, tables.GENERATIONS), "key").items() if k in keys}
    if not verify:
        return rows
    checked = store.verified({image_rel(k): r["sha256"] for k, r in rows.items()})  # concurrent reads from an object store
    good = {}
    for key, row in rows.items():
        if image_rel(key) in checked:
            good[key] = row
        elif store.exists(image_rel(key)):
            log.warning("%s: checksum mismatch; the image will be regenerated", store.path(image_rel(key)))
    return good


def split_missing(items: Sequence[Item], existing: dict[str, dict]) -> tuple[list[Item], list[Item]]:
    """(items to generate, items already in the store), each key once."""
    seen, missing, reused = set(), [], []
    for item in items:
        if item.key in seen:
            continue
        seen.add(item.key)
        (reused if item.key in existing else missing).append(item)
    return missing, reused
