"""From a spec file to a checked plan: conditions loaded, models resolved, keys computed.

Everything a user can get wrong is found here, before any image is generated, so the CLI can
report it as one line and nothing is half-written.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_serializer

from artifacts.store import Store
from tasks.conditions import spec_to_conditions
from tasks.inception_stage import store_references, wants_inception
from tasks.models import ResolvedModel, check_pipeline, effective_dtype, pick_device, pipeline_class_name, resolve_model
from tasks.pipeline_facts import PipelineFacts
from tasks.plan import plan_variant, variant_label
from tasks.spec import EvalSpec, load_spec


class Prepared(BaseModel):
    """A spec made concrete: what to generate, what with, and what to score it with.

    The CLI checks a spec by preparing it and hands the result to the flow as a parameter, so the
    inputs are read and hashed once. Prefect records flow parameters as JSON in its database: this
    records a short summary instead of every condition and item.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    spec: EvalSpec
    spec_path: str
    conditions: list[dict]
    models: dict[str, ResolvedModel]
    variants: list[dict]
    items: list[dict]
    metric_models: dict[str, ResolvedModel] = {}
    references: list[dict] = []

    def condition_map(self) -> dict[str, dict]:
        return {c["condition_id"]: c for c in self.conditions}

    @model_serializer
    def _summary(self) -> dict:
        return {"spec": self.spec.name, "spec_path": self.spec_path, "variants": [v["variant"] for v in self.variants],
                "conditions": len(self.conditions), "images": len({i["key"] for i in self.items})}


def resolve_metric_models(spec: EvalSpec) -> dict[str, ResolvedModel]:
    """The CLIP models the spec's metrics need, resolved (folder or hub cache) and fingerprinted."""
    out = {}
    for name in ("clip_score", "clip_directional_similarity"):
        cfg = getattr(spec.metrics, name)
        if cfg is not None:
            out[name] = resolve_model(spec.resolve_path(cfg.model), kind="clip", who=f"metrics.{name}.model",
                                      base_dir=spec.base_dir)
    return out


def spec_to_variants(spec: EvalSpec, models: dict[str, ResolvedModel], facts: PipelineFacts) -> list[dict]:
    """Every (model, sweep cell) with its generation settings, pipeline class, device and dtype."""
    variants = []
    for cell in spec.sweep.cells():
        for index, model in enumerate(spec.models):
            gen = spec.generation_for(model, cell)
            if spec.task == "class-conditional" and spec.classes.images_per_class is not None:
                gen = gen.model_copy(update={"images_per_prompt": spec.classes.images_per_class})
            if gen.scheduler:
                facts.scheduler_config(models[model.name].local_dir, gen.scheduler)  # an unknown name is bad input
            device = pick_device(gen.device)
            pipeline = pipeline_class_name(models[model.name].local_dir, model.pipeline)
            check_pipeline(pipeline, spec.task, facts.call_parameters(pipeline))
            variants.append({
                "variant": variant_label(model.name, cell), "model": model.name, "model_index": index, "cell": cell,
                "gen": gen, "pipeline": pipeline,
                "device": device, "dtype": effective_dtype(gen.dtype, device.split(":")[0], f"{spec.name}: models[{model.name}]"),
            })
    return variants


def prepare(spec_path: str | Path, store: Store) -> Prepared:
    """Load and check everything a run needs; raises BadInput on the first problem."""
    spec = load_spec(spec_path)
    models = {m.name: resolve_model(spec.resolve_path(m.path), m.revision, who=f"models[{m.name}].path", base_dir=spec.base_dir)
              for m in spec.models}
    conditions = spec_to_conditions(spec, store, [m.local_dir for m in models.values()])
    metric_models = resolve_metric_models(spec)
    if wants_inception(spec):
        references = store_references(spec, store)
    else:
        references = []
    facts = PipelineFacts(store)
    variants = spec_to_variants(spec, models, facts)
    items = []
    for v in variants:
        items += plan_variant(v, models[v["model"]], conditions, facts)
    facts.save()  # every input is checked by now
    return Prepared(spec=spec, spec_path=str(Path(spec_path).resolve()), conditions=conditions, models=models,
                    variants=variants, items=items, metric_models=metric_models, references=references)
