"""Canonical hashing: the same settings give the same key whatever the dict order."""

from __future__ import annotations

import contextlib
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


LARGE_FILE = 1 << 20  # smaller files hash about as fast as their hash is looked up: never kept
HASH_CACHE_ENV = "DIFFEVAL_CACHE"


def hash_cache_dir() -> Path:
    """This machine's cache of weight-file hashes: $DIFFEVAL_CACHE, else $XDG_CACHE_HOME/diffeval, else ~/.cache/diffeval."""
    if os.environ.get(HASH_CACHE_ENV):
        return Path(os.environ[HASH_CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "diffeval"


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's content, read once per version of the file on this machine.

    Model fingerprints hash every weight file (gigabytes: seconds of every run, warm re-runs included).
    A file of LARGE_FILE or more has its hash kept in hash_cache_dir(), named by its path, device,
    inode, size, mtime and ctime: any write to the file moves its ctime, which no tool can set back, so a
    changed file is read again. Within a process the answer is also memoised.
    """
    resolved = Path(path).expanduser().resolve()
    st = resolved.stat()
    return _file_sha256(str(resolved), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))


@functools.cache
def _file_sha256(path: str, version: tuple) -> str:
    if version[2] < LARGE_FILE:
        return _read_sha256(path)
    record = hash_cache_dir() / "file-sha256" / key_of([path, *version])
    with contextlib.suppress(OSError, UnicodeDecodeError):
        kept = record.read_text(encoding="ascii")
        if len(kept) == 64 and all(c in "0123456789abcdef" for c in kept):
            return kept
    digest = _read_sha256(path)
    with contextlib.suppress(OSError):  # an unwritable cache only costs the next run a read of the file
        record.parent.mkdir(parents=True, exist_ok=True)
        temp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
        try:
            temp.write_text(digest, encoding="ascii")
            os.replace(temp, record)
        finally:
            temp.unlink(missing_ok=True)
    return digest


def _read_sha256(path: str) -> str:
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
