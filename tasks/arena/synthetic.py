"""A finished text-to-image run made without any model: flat-colour PNGs, for the arena's tests and load bench.

It writes what a real run leaves (images, generation rows, the run's conditions, items and metrics,
the registry row) through the same writers, so the arena cannot tell it apart.
"""

from __future__ import annotations

import colorsys
import io

from PIL import Image

from artifacts import tables
from artifacts.keys import key_of, sha256_bytes
from artifacts.runfiles import register_run, write_run_table
from artifacts.store import Store, image_rel, ref_rel
from tasks.values.names import CLIP_SCORE, GROUP_ALL
from artifacts.run_ids import new_run_id

PROMPTS = [("a red cat", "Animals", "Basic"), ("a blue dog on a sofa", "Animals", "Complex"),
           ("three green circles", "Abstract", "Basic"), ("a lighthouse at dusk", "Outdoor Scenes", "Imagination")]


def _png(model_index: int, models: int, seed: int) -> bytes:
    rgb = colorsys.hsv_to_rgb(model_index / models, 0.6, 0.6 + 0.1 * (seed % 4))
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), tuple(int(255 * c) for c in rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_synthetic_run(store: Store, models: list[str], seeds: list[int], name: str = "arena-synthetic",
                        clip_scores: dict[str, float] | None = None, edits: bool = False,
                        same_as: dict[str, str] | None = None, metrics: dict[str, dict[str, float]] | None = None) -> str:
    """Register a completed run of `models` on PROMPTS x `seeds` (with `edits`, as edits of a stored source
    image, the prompt as the instruction); return its run id. `same_as`: model -> the model whose images it
    repeats byte for byte (under its own keys); `metrics`: model -> metric -> value, beside `clip_scores`."""
    same_as = same_as or {}
    run_id = new_run_id(name)
    conditions, items, generations = [], [], []
    for text, category, challenge in PROMPTS:
        cid = sha256_bytes(text.encode())[:16]
        meta = {"category": category, "challenge": challenge}
        if edits:
            source = _png(0, 1, len(text))
            meta = {"source_sha256": store.write_bytes(ref_rel(sha256_bytes(source)), source), "input": "a grey square",
                    "edit": text, "output": f"{text}, from a grey square"}
        conditions.append({"condition_id": cid, "text": text, "groups": [] if edits else [f"category:{category}", f"challenge:{challenge}"],
                           "meta": meta})
        for index, model in enumerate(models):
            for seed in seeds:
                key = key_of({"synthetic": model, "prompt": text, "seed": seed})
                data = _png(models.index(same_as.get(model, model)), len(models), seed)
                store.write_bytes(image_rel(key), data, durable=False)
                item = {"key": key, "model": model, "variant": model, "condition_id": cid, "seed": seed, "sample_index": 0}
                items.append({**item, "cell": {}})
                generations.append({**item, "prompt": text, "width": 32, "height": 32, "sha256": sha256_bytes(data)})
    tables.append(store, tables.GENERATIONS, generations)
    write_run_table(store, run_id, "conditions", conditions)
    write_run_table(store, run_id, "items", items)
    values = {(m, CLIP_SCORE): v for m, v in (clip_scores or {}).items()} | {
        (m, metric): v for m, by_metric in (metrics or {}).items() for metric, v in by_metric.items()}
    rows = [{"model": m, "metric": metric, "group": GROUP_ALL, "value": v, "ci_low": v, "ci_high": v, "n": len(PROMPTS)}
            for (m, metric), v in values.items()]
    write_run_table(store, run_id, "metrics", rows)
    register_run(store, run_id, name, "text-to-image", "completed", "")
    return run_id
