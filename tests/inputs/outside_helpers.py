"""Images made elsewhere, written by the tests: random PNGs and a manifest naming their prompt, model and seed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

PROMPTS = ["a red cat", "a blue dog on a sofa", "three green circles"]
MODELS = ("x", "y")
SEEDS = (0, 1)


def random_png(path: Path, seed: int, size: int = 64) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, size=(1, 1, 3))
    pixels = np.clip(base + rng.normal(0, 30, size=(size, size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def outside_rows(folder: Path, models=MODELS, prompts=PROMPTS, seeds=SEEDS) -> list[dict]:
    """One PNG per (model, prompt, seed) under folder/images, and its manifest row (file relative to `folder`)."""
    rows = []
    for m, model in enumerate(models):
        for p, prompt in enumerate(prompts):
            for seed in seeds:
                rel = f"images/{model}-{p}-{seed}.png"
                random_png(folder / rel, seed=1000 * m + 10 * p + seed)
                rows.append({"file": rel, "caption": prompt, "model": model, "seed": seed})
    return rows


def write_manifest(folder: Path, rows: list[dict], fmt: str) -> Path:
    """The rows as manifest.<fmt>: csv and jsonl name files; parquet holds the image bytes themselves."""
    path = folder / f"manifest.{fmt}"
    if fmt == "csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        table = [{**{k: v for k, v in r.items() if k != "file"}, "png": (folder / r["file"]).read_bytes()} for r in rows]
        pq.write_table(pa.Table.from_pylist(table), path)
    return path
