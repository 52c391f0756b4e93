"""The store: every byte diffeval keeps goes through here, in a local folder or under an fsspec URL.

Layout (browsable by a person):
    images/<key[:2]>/<key>.png              generated images, content addressed by generation key
    refs/<sha[:2]>/<sha>.png                real reference / source images, by content sha256
    tables/<table>/<sha256>.parquet         append-only table parts, named by their own checksum (rows
                                            ordered by their written_ns column, see artifacts/tables.py)
    runs/<run_id>/                          spec.yaml, metrics, scores, report.html, grid images
    leases/<scope>/<key[:2]>/<key>.<n>      who works on a key until when (artifacts/leases.py)
    locks/<name>.lock                       advisory locks for writers sharing one folder

A local path (or file:// URL) is a folder (artifacts/localfs.py: temp file + rename, umask
permissions, filelock); any other URL (s3://bucket/prefix, gs://, memory://, ...) is an object
store (artifacts/objectfs.py: one PUT per object, conditional PUTs for leases). Both sit behind
`Store`, which verifies checksums on read, so the rest of the code never asks which it has.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from artifacts.keys import sha256_bytes
from artifacts.localfs import LocalFolder
from artifacts.objectfs import ObjectFolder

DEFAULT_STORE = ".diffeval"


class CorruptArtifact(RuntimeError):
    """A file whose bytes no longer match the checksum recorded for it."""


def is_url(location: str | os.PathLike) -> bool:
    return "://" in str(location)


def resolve_store_root(store: str | os.PathLike | None) -> Path | str:
    """--store, else $DIFFEVAL_STORE, else ./.diffeval: an absolute Path, or a URL without its trailing slash."""
    chosen = str(store or os.environ.get("DIFFEVAL_STORE") or DEFAULT_STORE)
    if chosen.startswith("file://"):
        chosen = chosen.removeprefix("file://")
    elif is_url(chosen):
        return chosen.rstrip("/")
    return Path(chosen).expanduser().resolve()


class Store:
    """Artifacts with atomic writes and checksum-verified reads, in a folder or an object store."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = resolve_store_root(root)
        self.backend = LocalFolder(self.root) if isinstance(self.root, Path) else ObjectFolder(self.root)

    @property
    def is_local(self) -> bool:
        return self.backend.is_local

    def check_writable(self) -> None:
        """Raise BadInput unless the store can be written (a folder: creates nothing)."""
        self.backend.check_writable()

    def path(self, rel: str) -> Path | str:
        """Where `rel` lives: a Path in a folder store, a URL in an object store."""
        return self.backend.path(rel)

    def exists(self, rel: str) -> bool:
        return self.backend.exists(rel)

    def write_bytes(self, rel: str, data: bytes, durable: bool = True) -> str:
        """Write atomically (a folder: temp file, fsync, rename; an object store: one PUT); return the sha256.

        `durable=False` skips the fsync: for payloads whose checksum is recorded elsewhere and checked
        on every read (a PNG lost in a power cut is then regenerated), not for completion markers.
        """
        self.backend.write(rel, data, durable)
        return sha256_bytes(data)

    def write_text(self, rel: str, text: str) -> str:
        return self.write_bytes(rel, text.encode("utf-8"))

    def create_bytes(self, rel: str, data: bytes) -> bool:
        """Write `rel` only if nobody has (atomically); False when it already exists. Leases rest on this."""
        return self.backend.create(rel, data)

    def read_bytes(self, rel: str, sha256: str | None = None) -> bytes:
        """Read a file; if `sha256` is given, raise CorruptArtifact when the bytes differ."""
        data = self.backend.read(rel)
        if sha256 is not None and sha256_bytes(data) != sha256:
            raise CorruptArtifact(f"{self.path(rel)}: checksum mismatch (expected {sha256[:12]}…)")
        return data

    def read_many(self, rels: list[str]) -> dict[str, bytes | None]:
        """The bytes of several files (None for those gone), fetched concurrently from an object store."""
        if not self.is_local:
            return self.backend.read_many(rels)
        out: dict[str, bytes | None] = {}
        for rel in rels:
            try:
                out[rel] = self.backend.read(rel)
            except FileNotFoundError:
                out[rel] = None
        return out

    def verify(self, rel: str, sha256: str) -> bool:
        """True when the file exists and its bytes match `sha256`."""
        try:
            self.read_bytes(rel, sha256)
        except (FileNotFoundError, CorruptArtifact):
            return False
        return True

    def verified(self, expected: dict[str, str], chunk: int = 64) -> set[str]:
        """Those of `expected` ({rel: sha256}) that exist with those bytes (fetched `chunk` at a time from an object store)."""
        if self.is_local:
            return {rel for rel, sha in expected.items() if self.verify(rel, sha)}
        rels, good = list(expected), set()
        for start in range(0, len(rels), chunk):
            for rel, data in self.read_many(rels[start : start + chunk]).items():
                if data is not None and sha256_bytes(data) == expected[rel]:
                    good.add(rel)
        return good

    def list(self, folder: str, suffix: str = "") -> list[str]:
        """Relative paths of the files directly in `folder` ending with `suffix`, sorted."""
        return self.backend.list(folder, suffix)

    def walk(self, folder: str, suffix: str = "") -> list[str]:
        """Relative paths of every file under `folder`, at any depth, ending with `suffix`, sorted."""
        return self.backend.walk(folder, suffix)

    def remove(self, rel: str) -> None:
        self.backend.remove(rel)

    def link_or_copy(self, src_rel: str, dst_rel: str) -> None:
        """Place a copy of a stored file at `dst_rel` (a hard link where the file system allows)."""
        self.backend.link_or_copy(src_rel, dst_rel)

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """An exclusive lock shared by every process using this store (a filelock, or a lease in an object store)."""
        if self.is_local:
            return self.backend.lock(name)
        from artifacts.leases import store_lock

        return store_lock(self, name)


def image_rel(key: str) -> str:
    """Where the PNG of a generation key lives."""
    return f"images/{key[:2]}/{key}.png"


def ref_rel(sha256: str) -> str:
    """Where a real (reference or source) image lives, by its content hash."""
    return f"refs/{sha256[:2]}/{sha256}.png"


def run_rel(run_id: str, name: str = "") -> str:
    return f"runs/{run_id}/{name}" if name else f"runs/{run_id}"
