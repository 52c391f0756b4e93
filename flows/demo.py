"""`diffeval demo`: tiny random-weight models built into the store, built-in inputs, one command each scenario."""

from __future__ import annotations

from pathlib import Path

import yaml

from artifacts.errors import BadInput
from artifacts.store import Store

DEMO_GENERATION = {"steps": 4, "guidance_scale": 7.5, "height": 64, "width": 64, "seeds": [0, 1],
                   "images_per_prompt": 1, "batch_size": 8, "dtype": "float32", "device": "auto"}
# The classes of the guide's ten real ImageNet images (cassette player, chain saw, church, ...) and more.
DEMO_CLASSES = ["tench", "goldfish", "church", "parachute", "gas pump", "chain saw", "cassette player",
                "golf ball", "French horn", "garbage truck"]


def text_to_image_spec(models: dict[str, Path]) -> dict:
    """Two tiny SD checkpoints (stand-ins for v1-4 and v1-5) on the built-in prompts, CLIP score."""
    return {
        "name": "demo-text-to-image", "task": "text-to-image", "prompts": {"source": "builtin"},
        "models": [{"name": "tiny-v1-4", "path": str(models["sd-a"])}, {"name": "tiny-v1-5", "path": str(models["sd-b"])}],
        "generation": DEMO_GENERATION,
        "metrics": {"clip_score": {"model": str(models["clip"])}},
    }


def class_conditional_spec(models: dict[str, Path], references: Path) -> dict:
    """A tiny DiT swept over seeds and step counts, FID/KID/IS against procedural real images."""
    return {
        "name": "demo-class-conditional", "task": "class-conditional",
        "classes": {"words": DEMO_CLASSES, "images_per_class": 2},
        "models": [{"name": "tiny-dit", "path": str(models["dit"])}],
        "generation": {"steps": 4, "guidance_scale": 4.0, "seeds": [0], "batch_size": 20, "dtype": "float32",
                       "device": "auto", "scheduler": "DPMSolverMultistepScheduler"},
        "sweep": {"seeds": [0, 1], "steps": [2, 4]},
        "reference": {"path": str(references), "center_crop": None},
        "metrics": {"fid": {}, "kid": {"subsets": 50, "subset_size": 20}, "is": {"splits": 4},
                    "inception_weights": str(models["inception"])},
    }


def image_to_image_spec(models: dict[str, Path]) -> dict:
    """Tiny InstructPix2Pix against tiny img2img on the built-in edits, swept over both guidance scales."""
    return {
        "name": "demo-image-to-image", "task": "image-to-image", "edits": {"source": "builtin"},
        "models": [{"name": "tiny-instruct-pix2pix", "path": str(models["pix2pix"])},
                   {"name": "tiny-img2img", "path": str(models["img2img"]), "strength": 0.75}],
        "generation": {**DEMO_GENERATION, "seeds": [0], "guidance_scale": 7.5, "image_guidance_scale": 1.5},
        "sweep": {"guidance_scale": [1.5, 7.5], "image_guidance_scale": [1.0, 2.0]},
        "metrics": {"clip_directional_similarity": {"model": str(models["clip"])}, "clip_score": {"model": str(models["clip"])}},
    }


def write_demo_spec(store: str | None) -> list[str]:
    """Build the tiny models and demo data if absent, write the demo specs into the store; return their paths."""
    from tasks.inputs.references import procedural_reference_set
    from tasks.demo.tiny import build_tiny_models

    root = Store(store).root
    if not isinstance(root, Path):
        raise BadInput(f"--store {root}: the demo builds its models into the store, so it needs a local folder; "
                       "run `diffeval run SPEC --store URL` for an object store")
    models = build_tiny_models(root / "models" / "tiny")
    references = root / "demo" / "reference-images"
    if not (references / DEMO_CLASSES[-1]).is_dir():
        procedural_reference_set(references, per_class=4, names=DEMO_CLASSES)
    specs = [text_to_image_spec(models), image_to_image_spec(models), class_conditional_spec(models, references)]
    paths = []
    for spec in specs:
        rel = f"demo/{spec['name']}.yaml"
        Store(root).write_text(rel, yaml.safe_dump(spec, sort_keys=False))
        paths.append(str(root / rel))
    return paths
