"""Models whose images were made elsewhere: their rows matched to conditions, decoded once, keyed, planned as items.

Planning decodes every image (a bad one stops the run here, before anything is written, or is skipped and
counted when the spec says `on_bad_image: skip`) and keys it; the import stage (tasks/generation/
import_images.py) then puts the PNGs into the store as generation does, so features, metrics, paired
comparisons and the report treat such a model as any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from artifacts.errors import BadInput
from artifacts.images import png_bytes
from artifacts.keys import key_of, sha256_bytes
from tasks.extractors.preprocess import decode_image
from tasks.inputs.conditions import prompts_to_conditions
from tasks.inputs.outside_images import CONDITION_ROLE, OutsideRow, read_outside
from tasks.inputs.prompts import prompt_id_of
from tasks.models.resolve import ResolvedModel, pick_device
from tasks.plan.keys import PIXEL_SETTINGS
from tasks.values.units import Condition, Item, OutsideImages, Variant
from tasks.spec import EvalSpec, ModelSpec

log = logging.getLogger("diffeval")
PIPELINE = "outside-images"  # the Variant's pipeline: no diffusers class made these images


@dataclass
class OutsidePlan:
    """One outside model planned: its variant, items, where each item's image is, and what was left out."""

    variant: Variant
    model: ResolvedModel
    items: list[Item]
    source: OutsideImages
    skipped: list[str] = field(default_factory=list)  # images that failed to decode (on_bad_image: skip)
    unmatched: int = 0  # rows whose prompt / class / edit is none of the run's conditions


def model_rows(spec: EvalSpec, model: ModelSpec) -> list[OutsideRow]:
    """The rows of one outside model: its source's rows, those of its model name where the source names models."""
    images, who = model.images, f"models[{model.name}].images"
    rows = read_outside(images, spec.base_dir, spec.task, who)
    named = {r.model for r in rows if r.model is not None}
    if not named:
        return rows
    wanted = images.model or model.name
    mine = [r for r in rows if r.model == wanted]
    if not mine:
        raise BadInput(f"{who}: no rows of model '{wanted}' in {images.path} (models there: {', '.join(sorted(named)[:8])}); "
                       "set images.model to one of them")
    return mine


def conditions_from_images(spec: EvalSpec) -> list[Condition]:
    """When every model is made elsewhere and the spec lists no prompts or classes: the images' own, in first-seen order."""
    values = dict.fromkeys(r.condition for m in spec.models for r in model_rows(spec, m) if r.condition)
    if spec.task == "text-to-image":
        return prompts_to_conditions([{"prompt_id": prompt_id_of(t), "text": t} for t in values])
    if spec.task == "class-conditional":
        return [Condition(f"class-{v}", {"class_id": int(v)} if v.isdigit() else {"class": v}, v, v, (f"class:{v}",), {"label": v})
                for v in values]
    raise BadInput(f"{spec.name}: task image-to-image with images made elsewhere needs an edits: section (the source images)")


def _condition_index(conditions: list[Condition]) -> dict[str, set[str]]:
    """Every name a row may use for a condition (its id, text, label, or an input such as the class id or the edit)."""
    index: dict[str, set[str]] = {}
    for c in conditions:
        names = {c.condition_id, c.text, c.label} | {str(v) for k, v in c.inputs.items() if k != "source_sha256"}
        for name in names:
            index.setdefault(str(name).strip(), set()).add(c.condition_id)
    return index


def _decoded_png(row: OutsideRow, skip: bool) -> bytes | None:
    """The image as the store keeps generated ones (8-bit RGB PNG), or None when it fails to decode and `skip`."""
    try:
        return png_bytes(decode_image(row.load(), row.source))
    except BadInput:
        if skip:
            return None
        raise BadInput(f"{row.source}: cannot decode the image; replace or remove it, or set images.on_bad_image: skip") from None


def plan_outside(spec: EvalSpec, index: int, conditions: list[Condition]) -> OutsidePlan:
    """Match one outside model's rows to the conditions, decode each image once, and key it."""
    model = spec.models[index]
    who, task_role = f"models[{model.name}].images", CONDITION_ROLE[spec.task]
    names, rows, by_id = _condition_index(conditions), model_rows(spec, model), {c.condition_id: c for c in conditions}
    items, located, skipped, unmatched, samples = [], {}, [], 0, {}
    for row in rows:
        if row.condition is None:
            raise BadInput(f"{row.source}: no {task_role} for this image; add it to the manifest (or a .txt beside the image)")
        matches = names.get(row.condition, set())
        if len(matches) > 1:
            raise BadInput(f"{row.source}: {task_role} '{row.condition}' names {len(matches)} conditions; use the condition's id")
        if not matches:
            unmatched += 1
            continue
        data = _decoded_png(row, model.images.on_bad_image == "skip")
        if data is None:
            skipped.append(row.source)
            continue
        (condition_id,), seed = matches, 0 if row.seed is None else row.seed
        sample = samples[(condition_id, seed)] = samples.get((condition_id, seed), -1) + 1
        sha = sha256_bytes(data)
        condition = by_id[condition_id]
        # The key: the image's content and what it is an image of (condition, seed, sample), not the model's
        # name, so one file given for two prompts is two items, and two names for one file share an image.
        key = key_of({"outside_png_sha256": sha, "condition": condition.inputs, "seed": seed, "sample_index": sample})
        items.append(Item(key, model.name, model.name, condition_id, seed, sample))
        located[key] = (row.index, sha)
    if not items:
        raise BadInput(f"{who}: none of the {len(rows)} images matches a {task_role} of the run ({len(skipped)} skipped); "
                       f"check images.columns.{task_role} and the spec's prompts / classes / edits")
    if skipped:
        log.warning("%s: %d image(s) that failed to decode were skipped (first: %s)", who, len(skipped), skipped[0])
    if unmatched:
        log.warning("%s: %d image(s) whose %s is not one of the run's were left out", who, unmatched, task_role)
    gen = spec.generation_for(model)
    declared = set(spec.generation.model_fields_set) | set(model.overrides)
    variant = Variant(model.name, model.name, index, {}, gen, PIPELINE, pick_device(gen.device), "uint8",
                      tuple(s for s in PIXEL_SETTINGS if s in declared))  # no setting of ours made these pixels
    resolved = ResolvedModel(model.images.path, str(model.images.path), "outside:" + key_of(sorted(located))[:32])
    source = OutsideImages(model.images, spec.base_dir, spec.task, who, located)
    return OutsidePlan(variant, resolved, items, source, skipped, unmatched)
