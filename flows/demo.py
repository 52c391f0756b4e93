"""`diffeval demo`: tiny random-weight models built into the store, built-in inputs, one command."""

from __future__ import annotations

from pathlib import Path

import yaml

from artifacts.store import Store

DEMO_GENERATION = {"steps": 4, "guidance_scale": 7.5, "height": 64, "width": 64, "seeds": [0, 1],
                   "images_per_prompt": 1, "batch_size": 8, "dtype": "float32", "device": "auto"}


def text_to_image_spec(models: dict[str, Path]) -> dict:
    """Two tiny SD checkpoints (stand-ins for v1-4 and v1-5) on the built-in prompts, CLIP score."""
    return {
        "name": "demo-text-to-image", "task": "text-to-image", "prompts": {"source": "builtin"},
        "models": [{"name": "tiny-v1-4", "path": str(models["sd-a"])}, {"name": "tiny-v1-5", "path": str(models["sd-b"])}],
        "generation": DEMO_GENERATION,
        "metrics": {"clip_score": {"model": str(models["clip"])}},
    }


def write_demo_spec(store: str | None) -> list[str]:
    """Build the tiny models if absent and write the demo specs into the store; return their paths."""
    from tasks.tiny import build_tiny_models

    root = Store(store).root
    models = build_tiny_models(root / "models" / "tiny")
    specs = [text_to_image_spec(models)]
    paths = []
    for spec in specs:
        path = root / "demo" / f"{spec['name']}.yaml"
        Store(root).write_text(f"demo/{path.name}", yaml.safe_dump(spec, sort_keys=False))
        paths.append(str(path))
    return paths
