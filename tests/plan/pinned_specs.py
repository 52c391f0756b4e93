"""Three fixed specs on the tiny models (text-to-image, class-conditional, image-to-image), written as the
code before the reshape saw them: their keys and fingerprints are pinned in pinned_keys.json."""

from __future__ import annotations

from pathlib import Path

import yaml

from tasks.inputs.references import procedural_reference_set

PROMPTS = ["a red cat", "a blue dog on a sofa", "three green circles"]
LABELS = ["tench", "goldfish", "church"]
SMALL = {"steps": 2, "height": 64, "width": 64, "seeds": [0], "batch_size": 4, "dtype": "float32", "device": "cpu"}


def t2i(tiny: dict) -> dict:
    return {"name": "t2i-test", "task": "text-to-image", "prompts": {"source": "file", "path": "prompts.txt"},
            "models": [{"name": "a", "path": str(tiny["sd-a"])}, {"name": "b", "path": str(tiny["sd-b"])}],
            "generation": SMALL, "metrics": {"clip_score": {"model": str(tiny["clip"])}}}


def dit(tiny: dict) -> dict:
    return {"name": "dit-test", "task": "class-conditional", "classes": {"words": LABELS, "images_per_class": 2},
            "models": [{"name": "dit", "path": str(tiny["dit"])}],
            "generation": {"steps": 2, "guidance_scale": 4.0, "seeds": [0], "batch_size": 6, "dtype": "float32", "device": "cpu"},
            "sweep": {"seeds": [0, 1]}, "reference": {"path": "refs", "center_crop": None, "limit": 9},
            "metrics": {"fid": {}, "kid": {"subsets": 5, "subset_size": 4}, "is": {"splits": 2},
                        "inception_weights": str(tiny["inception"])}}


def edit(tiny: dict, limit: int = 3) -> dict:
    return {"name": "edit-test", "task": "image-to-image", "edits": {"source": "builtin", "limit": limit},
            "models": [{"name": "ip2p", "path": str(tiny["pix2pix"])}, {"name": "i2i", "path": str(tiny["img2img"]), "strength": 0.8}],
            "generation": SMALL, "sweep": {"guidance_scale": [1.5, 7.5], "image_guidance_scale": [1.0, 2.0]},
            "metrics": {"clip_directional_similarity": {"model": str(tiny["clip"])}, "clip_score": {"model": str(tiny["clip"])}}}


SPECS = {"t2i": t2i, "dit": dit, "edit": edit}


def write_spec(folder: Path, spec: dict) -> Path:
    """The spec and the inputs it reads (prompts.txt, procedural reference images) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompts.txt").write_text("\n".join(PROMPTS) + "\n")
    if not (folder / "refs").exists():
        procedural_reference_set(folder / "refs", per_class=3, size=32, names=LABELS + [f"zz-other-{i}" for i in range(7)])
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
