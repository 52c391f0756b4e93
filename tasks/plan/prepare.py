"""From a spec file to a checked plan: conditions loaded, models resolved, keys computed.

Everything a user can get wrong is found here, before any image is generated, so the CLI can
report it as one line and nothing is half-written.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

from pydantic import BaseModel, ConfigDict, model_serializer

from artifacts.store import Store
from tasks.inputs.conditions import spec_to_conditions
from tasks.models.checkpoints import STEP_AXIS, model_key, resolve_checkpoints, steps_of
from tasks.models.facts import PipelineFacts
from tasks.models.resolve import ResolvedModel, check_pipeline, effective_dtype, pick_device, pipeline_class_name, resolve_model
from tasks.plan.keys import accepted_settings, ignored_settings, plan_variant, variant_label
from tasks.inputs.outside_images import forget_reads
from tasks.plan.references import store_references, wants_inception
from tasks.plan.outside_plan import OutsidePlan, conditions_from_images, plan_outside
from tasks.values.units import Condition, GenerationBatch, Item, OutsideImages, Variant
from tasks.spec import EvalSpec, load_spec
from tasks.values.metric import enabled_metrics, with_settings


class Prepared(BaseModel):
    """A spec made concrete: what to generate, what with, and what to score it with.

    The CLI checks a spec by preparing it and hands the result to the flow as a parameter, so the
    inputs are read and hashed once. Prefect records flow parameters as JSON in its database: this
    records a short summary instead of every condition and item.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    spec: EvalSpec
    spec_path: str
    conditions: tuple[Condition, ...]
    models: dict[str, ResolvedModel]
    variants: tuple[Variant, ...]
    items: tuple[Item, ...]
    metric_models: dict[str, ResolvedModel] = {}
    references: list[dict] = []
    outside: dict[str, OutsideImages] = {}  # variant -> where its images made elsewhere are read from
    skipped: dict[str, list[str]] = {}  # variant -> images made elsewhere that failed to decode (on_bad_image: skip)

    @functools.cached_property
    def condition_map(self) -> dict[str, Condition]:
        return {c.condition_id: c for c in self.conditions}

    def model_of(self, variant: Variant) -> ResolvedModel:
        """The resolved model a variant generates with (one step's, for a checkpoints folder)."""
        return self.models[model_key(variant.model, variant.cell.get(STEP_AXIS))]

    def batch(self, variant: Variant, items: Sequence[Item]) -> GenerationBatch:
        """What a worker needs to generate `items` of `variant`, and nothing else."""
        needed = dict.fromkeys(i.condition_id for i in items)
        edits = self.spec.edits.resize if self.spec.edits is not None else "center-crop"
        outside = self.outside.get(variant.variant_id)
        return GenerationBatch(variant, self.model_of(variant), tuple(self.condition_map[c] for c in needed), tuple(items),
                               edits if self.spec.task == "image-to-image" else None,
                               outside.only(i.key for i in items) if outside is not None else None)

    @model_serializer
    def _summary(self) -> dict:
        return {"spec": self.spec.name, "spec_path": self.spec_path, "variants": [v.variant_id for v in self.variants],
                "conditions": len(self.conditions), "images": len({i.key for i in self.items})}


def resolve_metric_models(spec: EvalSpec) -> dict[str, ResolvedModel]:
    """The models the spec's metrics need, resolved (folder or hub cache) and fingerprinted.

    Keyed by metric name; a separate processor folder (PickScore's) under `<metric>.processor`.
    """
    out = {}
    for metric in with_settings():  # each metric declares the kind of folder its model is
        name, kind, cfg = metric.key, metric.model_kind, getattr(spec.metrics, metric.field)
        if kind is None or cfg is None or name in out:  # metrics that share a section share its model
            continue
        out[name] = resolve_model(spec.resolve_path(cfg.model), kind=kind, who=f"metrics.{name}.model", base_dir=spec.base_dir)
        if getattr(cfg, "processor", None):
            out[f"{name}.processor"] = resolve_model(spec.resolve_path(cfg.processor), kind=kind,
                                                     who=f"metrics.{name}.processor", base_dir=spec.base_dir)
        for field, extra_kind in metric.extra_models:  # GenEval's colour CLIP, say
            out[f"{name}.{field}"] = resolve_model(spec.resolve_path(getattr(cfg, field)), kind=extra_kind,
                                                   who=f"metrics.{name}.{field}", base_dir=spec.base_dir)
    return out


def declared_settings(spec: EvalSpec, model_index: int, cell: dict) -> set[str]:
    """The generation settings the spec sets for a model in a cell (in generation:, on the model, or swept)."""
    return set(spec.generation.model_fields_set) | set(spec.models[model_index].overrides) | set(cell)


def spec_to_variants(spec: EvalSpec, models: dict[str, ResolvedModel], facts: PipelineFacts) -> list[Variant]:
    """Every (model, sweep cell) with its generation settings, pipeline class, device and dtype; a checkpoints
    folder gives one variant per step (setting `train_step`)."""
    variants = []
    for cell in spec.sweep.cells():
        for index, model in enumerate(spec.models):
            if model.outside:
                continue  # planned by tasks/plan/outside_plan.py: one variant, whatever the sweep
            for step in steps_of(models, model.name):
                variants.append(_variant(spec, index, cell, step, models[model_key(model.name, step)], facts))
    return variants


def _variant(spec: EvalSpec, index: int, cell: dict, step: int | None, resolved: ResolvedModel, facts: PipelineFacts) -> Variant:
    """One model (one step of it) in one sweep cell."""
    model = spec.models[index]
    gen = spec.generation_for(model, cell)
    if spec.task == "class-conditional" and spec.classes.images_per_class is not None:
        gen = gen.model_copy(update={"images_per_prompt": spec.classes.images_per_class})
    if gen.scheduler:
        facts.scheduler_config(resolved.local_dir, gen.scheduler)  # an unknown name is bad input
    device = pick_device(gen.device)
    pipeline = pipeline_class_name(resolved.local_dir, model.pipeline)
    params = facts.call_parameters(pipeline)
    check_pipeline(pipeline, spec.task, params)
    dtype = effective_dtype(gen.dtype, device.split(":")[0], f"{spec.name}: models[{model.name}]")
    setting = cell if step is None else {STEP_AXIS: step, **cell}
    return Variant(variant_label(model.name, setting), model.name, index, setting, gen, pipeline, device, dtype,
                   ignored_settings(params, declared_settings(spec, index, cell)), accepted_settings(params))


def prepare(spec_path: str | Path, store: Store) -> Prepared:
    """Load and check everything a run needs; raises BadInput on the first problem."""
    spec = load_spec(spec_path)
    forget_reads()  # each planning reads outside images afresh; the import stage reuses that reading
    models = {m.name: resolve_model(spec.resolve_path(m.path), m.revision, who=f"models[{m.name}].path", base_dir=spec.base_dir)
              for m in spec.models if m.path is not None}
    for index, model in enumerate(spec.models):
        if model.checkpoints is not None:
            models |= resolve_checkpoints(spec, index)  # one model per step, `name@step`
    if not models and not ({"prompts", "classes", "edits"} & spec.model_fields_set):
        conditions = conditions_from_images(spec)  # every model is images made elsewhere: their prompts / classes
    else:
        conditions = spec_to_conditions(spec, store, [m.local_dir for m in models.values()])
    # Before anything is written (references, facts): a bad image made elsewhere leaves nothing behind.
    outside: list[OutsidePlan] = [plan_outside(spec, i, conditions) for i, m in enumerate(spec.models) if m.outside]
    models |= {p.variant.model: p.model for p in outside}
    metric_models = resolve_metric_models(spec)
    for metric in enabled_metrics(spec):  # what a metric cannot score is refused before anything is written
        if metric.check is not None:
            metric.check(spec, conditions, metric_models)
    if wants_inception(spec):
        references = store_references(spec, store)
    else:
        references = []
    facts = PipelineFacts(store)
    variants = spec_to_variants(spec, models, facts)
    items = [item for v in variants for item in plan_variant(v, models[model_key(v.model, v.cell.get(STEP_AXIS))], conditions,
                                                             facts)]
    facts.save()  # every input is checked by now
    variants += [p.variant for p in outside]
    items += [item for p in outside for item in p.items]
    return Prepared(spec=spec, spec_path=str(Path(spec_path).resolve()), conditions=tuple(conditions), models=models,
                    variants=tuple(variants), items=tuple(items), metric_models=metric_models, references=references,
                    outside={p.variant.variant_id: p.source for p in outside},
                    skipped={p.variant.variant_id: p.skipped for p in outside if p.skipped})
