"""What each image is conditioned on: prompts, class labels or edit pairs, as Conditions (tasks/values/units.py)."""

from __future__ import annotations

from artifacts.errors import BadInput
from artifacts.store import Store
from tasks.values.units import Condition
from tasks.spec import EditsSpec, EvalSpec


def prompts_to_conditions(prompts: list[dict]) -> list[Condition]:
    """Text-to-image: one condition per prompt, grouped by Parti-style category and challenge."""
    rows = []
    for p in prompts:
        groups = tuple(f"{kind}:{p[kind]}" for kind in ("category", "challenge") if p.get(kind))
        groups += tuple(f"skill:{s}" for s in p.get("skills") or ())  # GenAI-Bench's skill tags (several per prompt)
        tags = " · ".join(p[k] for k in ("category", "challenge") if p.get(k))
        rows.append(Condition(p["prompt_id"], {"prompt": p["text"]}, p["text"], f"{p['text']} ({tags})" if tags else p["text"],
                              groups, {"category": p.get("category"), "challenge": p.get("challenge")}))
    return rows


def spec_to_conditions(spec: EvalSpec, store: Store, model_dirs: list[str]) -> list[Condition]:
    """The conditions of a spec's task (reading prompt files, class lists or edit sets)."""
    if spec.task == "text-to-image":
        from tasks.inputs.prompts import load_prompts

        conditions = prompts_to_conditions(load_prompts(spec.prompts, spec.base_dir))
    elif spec.task == "class-conditional":
        from tasks.inputs.classes import spec_to_class_conditions

        conditions = spec_to_class_conditions(spec, model_dirs[0])
    else:
        from tasks.inputs.edits import load_edits
        from tasks.inputs.edit_conditions import edits_to_conditions

        conditions = edits_to_conditions(load_edits(spec.edits or EditsSpec(), spec.base_dir), spec, store)
    if not conditions:
        raise BadInput(f"{spec.name}: nothing to evaluate (no prompts, classes or edits); check the spec's input section")
    return conditions
