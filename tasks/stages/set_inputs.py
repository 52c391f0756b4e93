"""The inputs of `diffeval sets`: a folder, manifest or dataset of images (kept in refs/ by content), saved
statistics by name (`stats:NAME`), or a pytorch-fid / clean-fid `.npz` file (mu and sigma only)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from artifacts.keys import sha256_bytes
from artifacts.named_stats import load_stats, read_npz
from artifacts.store import Store, ref_rel
from tasks.extractors.preprocess import decode_image
from tasks.inputs.outside_images import read_outside
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
    return images_to_input(store, value, base_dir)


def images_to_input(store: Store, value: str, base_dir: str = ".") -> SetInput:
    """Decode every image first (a bad one stops here, nothing written), then keep the new ones in refs/ as they are
    (their bytes, not a re-encoding: FID moves with the format, which is recorded)."""
    rows = read_outside(ImagesSpec(path=value), base_dir, None, value)
    shas, sources, formats = [], {}, set()
    for row in rows:
        data = row.load()
        decode_image(data, row.source)
        sha = sha256_bytes(data)
        shas.append(sha)
        sources.setdefault(sha, row.source)
        formats.add((Image.open(io.BytesIO(data)).format or "unknown").lower())
    for row, sha in zip(rows, shas):
        if not store.exists(ref_rel(sha)):
            store.write_bytes(ref_rel(sha), row.load())
    return SetInput(value, tuple(shas), sources, tuple(sorted(formats)))
