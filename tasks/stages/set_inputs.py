"""The inputs of `diffeval sets`: a folder, manifest or dataset of images (kept in refs/ by content), saved
statistics by name (`stats:NAME`), or a pytorch-fid / clean-fid `.npz` file (mu and sigma only)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from artifacts.errors import BadInput
from artifacts.keys import sha256_bytes
from artifacts.named_stats import load_stats, read_npz
from artifacts.store import Store, ref_rel
from tasks.extractors.preprocess import decode_image
from tasks.inputs.outside_images import forget_reads, read_outside
from tasks.values.hub_ids import looks_like_hub_id
from tasks.spec import ImagesSpec

STATS_PREFIX = "stats:"


@dataclass(frozen=True)
class SetInput:
    """One side of a comparison: its images by content sha256 (in order, repeats kept), or saved statistics."""

    label: str
    shas: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)  # sha -> the file or row an error names
    formats: tuple[str, ...] = ()
    saved: dict | None = None  # the catalog entry of stats:NAME
    npz: tuple[np.ndarray, np.ndarray] | None = None  # (mu, sigma) of an .npz file
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # sha -> (width, height), decoded
    loaders: dict[str, Callable[[], bytes]] = field(default_factory=dict, compare=False)  # sha -> its bytes, for keep_images

    @property
    def images(self) -> bool:
        """True when features can be read for it (images or stats:NAME), False for mu / sigma only."""
        return self.npz is None


def resolve_input(store: Store, value: str, base_dir: str = ".") -> SetInput:
    """What `value` names: stats:NAME, an .npz file, else a folder / manifest / dataset read as images."""
    if value.startswith(STATS_PREFIX):
        saved = load_stats(store, value.removeprefix(STATS_PREFIX))
        record = saved["record"]
        return SetInput(value, tuple(saved["shas"]), {}, tuple(record.get("formats", [])), saved=saved)
    path = Path(base_dir) / Path(value).expanduser()
    if path.suffix.lower() == ".npz" and path.is_file():
        return SetInput(value, npz=read_npz(str(path)))
    if not path.exists() and not looks_like_hub_id(value):
        raise BadInput(f"{value}: no such folder or file (looked in {path}); give a folder of images, a manifest (.csv, "
                       ".jsonl, .parquet), stats:NAME, an .npz file, or a hub dataset as owner/name")
    return images_to_input(value, base_dir)


def images_to_input(value: str, base_dir: str = ".") -> SetInput:
    """Decode every image (a bad one stops here, naming its file); nothing is written: keep_images does that once
    every input and option has been checked."""
    forget_reads()  # each command reads its folders afresh (a test or `serve` process runs many, the cache is by path)
    rows = read_outside(ImagesSpec(path=value), str(Path(base_dir).resolve()), None, value)
    shas, sources, formats, sizes, loaders = [], {}, set(), {}, {}
    for row in rows:
        data = row.load()
        sizes[sha := sha256_bytes(data)] = decode_image(data, row.source).size
        shas.append(sha)
        sources.setdefault(sha, row.source)
        loaders.setdefault(sha, row.load)
        formats.add((Image.open(io.BytesIO(data)).format or "unknown").lower())
    return SetInput(value, tuple(shas), sources, tuple(sorted(formats)), sizes=sizes, loaders=loaders)


def keep_images(store: Store, inp: SetInput) -> int:
    """The new images of a set in refs/ as they are (their bytes, not a re-encoding: FID moves with the format,
    which is recorded); the number written."""
    written = 0
    for sha, load in inp.loaders.items():
        if not store.exists(ref_rel(sha)):
            store.write_bytes(ref_rel(sha), load())
            written += 1
    return written
