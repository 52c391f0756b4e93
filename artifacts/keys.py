"""Canonical hashing: the same settings give the same key whatever the dict order."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any


def _finite(value: Any) -> Any:
    # Scheduler configs hold -inf (e.g. lambda_min_clipped); JSON has no such number, so spell it.
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace; floats keep repr precision, inf/nan become strings."""
    return json.dumps(_finite(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's content, computed once per (path, size, mtime) in this process (weights are large)."""
    resolved = Path(path).expanduser().resolve()
    stat = resolved.stat()
    return _file_sha256(str(resolved), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:  # noqa: ARG001 (size and mtime key the memo)
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def key_of(value: Any) -> str:
    """sha256 of the canonical JSON of `value`: the cache key of whatever it describes."""
    return sha256_text(canonical_json(value))


def derive_seed(seed: int, sample_index: int) -> int:
    """The generator seed of one image: `seed` itself for sample 0 (as `torch.manual_seed(seed)`
    gives), a hash of (seed, sample_index) otherwise so samples never collide across seeds."""
    if sample_index == 0:
        return int(seed)
    digest = hashlib.sha256(f"{int(seed)}/{int(sample_index)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
