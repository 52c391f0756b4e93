"""Planning for a pipeline held in memory: the spec's prompts, settings and metrics, one model that is this
pipeline (one step of it), the same generation keys as any other model with its fingerprint."""

from __future__ import annotations

from pathlib import Path

from artifacts.store import Store
from tasks.inputs.conditions import spec_to_conditions
from tasks.models.checkpoints import CheckpointModel, model_key
from tasks.models.facts import PipelineFacts
from tasks.models.in_memory import pipeline_fingerprint, write_pipeline_configs
from tasks.models.resolve import ResolvedModel
from tasks.plan.keys import plan_variant
from tasks.plan.prepare import Prepared, resolve_metric_models, spec_to_variants
from tasks.spec import EvalSpec, ModelSpec
from tasks.plan.references import store_references, wants_inception


def _pipeline_settings(pipe) -> dict:
    """The device and dtype the pipeline is on: it generates where it is (not where the spec says)."""
    dtype = str(getattr(pipe, "dtype", "torch.float32")).removeprefix("torch.")
    return {"device": str(pipe.device), "dtype": dtype if dtype in ("float32", "float16", "bfloat16") else "float32"}


def in_memory_spec(spec: EvalSpec, pipe, name: str | None, folder: Path) -> EvalSpec:
    """The spec with one model, `name` (default: the spec's first model), whose overrides it keeps where the spec has it."""
    name = name or spec.models[0].name
    own = next((m for m in spec.models if m.name == name), None)
    overrides = {**(own.overrides if own else {}), **_pipeline_settings(pipe)}
    model = ModelSpec(name=name, path=str(folder), **overrides)
    return spec.model_copy(update={"models": [model]})


def prepare_in_memory(spec: EvalSpec, spec_path: str, pipe, step: int | None, store: Store, name: str | None,
                      folder: Path) -> Prepared:
    """A Prepared run of `pipe` (at training step `step`) on the spec's conditions, settings and metrics."""
    write_pipeline_configs(pipe, folder)
    spec = in_memory_spec(spec, pipe, name, folder)
    name = spec.models[0].name
    fingerprint = pipeline_fingerprint(pipe)
    if step is None:
        resolved: ResolvedModel = ResolvedModel(f"in-memory:{name}", str(folder), fingerprint)
    else:
        resolved = CheckpointModel(f"in-memory:{name}", str(folder), fingerprint, None, int(step), "memory", "", "")
    models = {model_key(name, step): resolved}
    conditions = spec_to_conditions(spec, store, [str(folder)])
    metric_models = resolve_metric_models(spec)
    references = store_references(spec, store) if wants_inception(spec) else []
    facts = PipelineFacts(store)
    variants = spec_to_variants(spec, models, facts)
    items = [item for v in variants for item in plan_variant(v, resolved, conditions, facts)]
    facts.save()
    return Prepared(spec=spec, spec_path=spec_path, conditions=tuple(conditions), models=models, variants=tuple(variants),
                    items=tuple(items), metric_models=metric_models, references=references)
