"""Image folders the project did not make, for the from-files reference tests: larger than every model's input
and not square, with fine stripes so that the crop, the resize filter and its antialiasing all show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from flows.app.cli import main

SIZES = {"A": [(512, 384), (512, 384), (384, 512)], "B": [(512, 384), (384, 512), (512, 384)]}


def striped(width: int, height: int, seed: int, period: int) -> np.ndarray:
    """Vertical and horizontal stripes of `period` pixels, a seeded colour cast and noise: uint8 HWC."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    stripes = 90 * ((x // period) % 2) + 60 * ((y // (period + 1)) % 2)
    cast = rng.uniform(0, 100, size=3)
    noise = rng.normal(0, 20, size=(height, width, 3))
    return np.clip(stripes[..., None] + cast + noise, 0, 255).astype(np.uint8)


def write_folders(root: Path) -> dict[str, Path]:
    """Folders A and B of 3 PNGs each (512x384 and 384x512; B's stripes finer and its cast other)."""
    out = {}
    for side, sizes in SIZES.items():
        folder = root / side
        folder.mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            seed = i + (10 if side == "B" else 0)
            Image.fromarray(striped(w, h, seed, 2 if side == "B" else 3)).save(folder / f"{i:02d}.png")
        out[side] = folder
    return out


def pngs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.png"))


def sets_values(capsys, *argv: str) -> dict[str, float]:
    """`diffeval sets ... --json`'s values by metric (A against B, or the set alone for IS)."""
    assert main(["sets", *argv, "--json"]) == 0, capsys.readouterr().err
    return {r["metric"] + (f"[{r['a']}]" if not r["b"] else ""): r["value"]
            for r in json.loads(capsys.readouterr().out)["rows"]}
