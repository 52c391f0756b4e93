"""Reference statistics saved by name (clean-fid's custom stats): a catalog row naming content keys, and an .npz.

A name maps to the content sha256 of each image of the set and the fingerprints of the extractors whose
features the cache holds for them, so `stats:NAME` reuses those features and extracts nothing. The
Inception pool mean and covariance are also written as `stats/<name>.npz` (keys `mu`, `sigma`, as
pytorch-fid and clean-fid write them) for other tools. The catalog row is written last: it marks the
entry complete, and a later save of the same name adds a row rather than rewriting one.
"""

from __future__ import annotations

import io
import json
import re
import time

import numpy as np

from artifacts import tables
from artifacts.errors import BadInput
from artifacts.store import Store

STATS = "stats"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise BadInput(f"--save-stats {name!r}: use letters, digits, '.', '_' and '-' (starting with a letter or digit)")
    return name


def npz_rel(name: str) -> str:
    return f"stats/{name}.npz"


def npz_bytes(mu: np.ndarray, sigma: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez(out, mu=np.asarray(mu, np.float64), sigma=np.asarray(sigma, np.float64))
    return out.getvalue()


def save_stats(store: Store, name: str, shas: list[str], extractors: list[str], record: dict,
               mu: np.ndarray | None = None, sigma: np.ndarray | None = None) -> dict:
    """Save a set under `name`: its .npz first (when the pool statistics are given), then the catalog row."""
    npz = None
    if mu is not None:
        npz = npz_rel(check_name(name))
        store.write_bytes(npz, npz_bytes(mu, sigma))
    row = {"name": check_name(name), "shas": json.dumps(shas), "extractors": json.dumps(sorted(extractors)),
           "record": json.dumps(record, sort_keys=True, default=str), "npz": npz, "created": time.time()}
    tables.append(store, STATS, [row])
    return {**row, "path": str(store.path(npz)) if npz else None}


def load_stats(store: Store, name: str) -> dict:
    """The latest save of `name`: shas, extractors and record decoded; BadInput listing the saved names if none."""
    rows = tables.latest_by(tables.read(store, STATS), "name")
    if name not in rows:
        saved = ", ".join(sorted(rows)) or "none"
        raise BadInput(f"stats:{name}: no statistics saved under that name in {store.root} (saved: {saved}); "
                       f"save them with `diffeval sets IMAGES --save-stats {name}`")
    row = rows[name]
    return {**row, "shas": json.loads(row["shas"]), "extractors": json.loads(row["extractors"]), "record": json.loads(row["record"])}


def read_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of a pytorch-fid / clean-fid statistics file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "mu" not in data or "sigma" not in data:
                raise BadInput(f"{path}: no 'mu' and 'sigma' arrays (found: {', '.join(data.files)}); pass pytorch-fid or "
                               "clean-fid statistics")
            mu, sigma = np.asarray(data["mu"], np.float64), np.asarray(data["sigma"], np.float64)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: not a readable .npz file ({type(exc).__name__}); pass pytorch-fid or clean-fid statistics") from None
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise BadInput(f"{path}: mu {mu.shape} and sigma {sigma.shape} do not fit (want (d,) and (d, d)); pass FID statistics")
    return mu, sigma
