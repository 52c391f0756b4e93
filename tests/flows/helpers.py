"""Small specs on tiny models for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import yaml

PROMPTS = ["a red cat", "a blue dog on a sofa", "three green circles"]


def write_prompts(folder: Path, prompts: list[str]) -> Path:
    path = folder / "prompts.txt"
    path.write_text("\n".join(prompts) + "\n")
    return path


def t2i_spec(folder: Path, tiny: dict, prompts: list[str] = PROMPTS, names=("a", "b"), **overrides) -> Path:
    """A text-to-image spec: the given prompts, tiny SD models, 64x64, 2 steps, CLIP score."""
    write_prompts(folder, prompts)
    spec = {
        "name": "t2i-test", "task": "text-to-image", "prompts": {"source": "file", "path": "prompts.txt"},
        "models": [{"name": n, "path": str(tiny["sd-a" if i == 0 else "sd-b"])} for i, n in enumerate(names)],
        "generation": {"steps": 2, "height": 64, "width": 64, "seeds": [0], "batch_size": 4, "dtype": "float32", "device": "cpu"},
        "metrics": {"clip_score": {"model": str(tiny["clip"])}},
    }
    for key, value in overrides.items():
        spec[key] = {**spec[key], **value} if isinstance(value, dict) and isinstance(spec.get(key), dict) else value
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
