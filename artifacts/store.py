"""The store: every byte diffeval keeps on disk goes through here.

Layout (browsable by a person):
    images/<key[:2]>/<key>.png              generated images, content addressed by generation key
    refs/<sha[:2]>/<sha>.png                real reference / source images, by content sha256
    tables/<table>/<sha256>.parquet         append-only table parts, named by their own checksum
    runs/<run_id>/                          spec.yaml, metrics, scores, report.html, grid images
    locks/<name>.lock                       advisory locks for writers sharing one store
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from artifacts.errors import BadInput
from artifacts.keys import sha256_bytes

DEFAULT_STORE = ".diffeval"


class CorruptArtifact(RuntimeError):
    """A file whose bytes no longer match the checksum recorded for it."""


def resolve_store_root(store: str | os.PathLike | None) -> Path:
    """--store, else $DIFFEVAL_STORE, else ./.diffeval (absolute)."""
    chosen = store or os.environ.get("DIFFEVAL_STORE") or DEFAULT_STORE
    return Path(chosen).expanduser().resolve()


class Store:
    """A folder of artifacts with atomic writes and checksum-verified reads."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = resolve_store_root(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"store {self.root}: cannot create it ({exc.strerror}); pass --store DIR with a writable folder") from None

    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def write_bytes(self, rel: str, data: bytes, durable: bool = True) -> str:
        """Write atomically (temp file in the same folder, fsync, rename); return the sha256.

        `durable=False` skips the fsync: for payloads whose checksum is recorded elsewhere and checked
        on every read (a PNG lost in a power cut is then regenerated), not for completion markers.
        """
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return sha256_bytes(data)

    def write_text(self, rel: str, text: str) -> str:
        return self.write_bytes(rel, text.encode("utf-8"))

    def read_bytes(self, rel: str, sha256: str | None = None) -> bytes:
        """Read a file; if `sha256` is given, raise CorruptArtifact when the bytes differ."""
        data = (self.root / rel).read_bytes()
        if sha256 is not None and sha256_bytes(data) != sha256:
            raise CorruptArtifact(f"{self.root / rel}: checksum mismatch (expected {sha256[:12]}…)")
        return data

    def verify(self, rel: str, sha256: str) -> bool:
        """True when the file exists and its bytes match `sha256`."""
        try:
            self.read_bytes(rel, sha256)
        except (FileNotFoundError, CorruptArtifact):
            return False
        return True

    def list(self, folder: str, suffix: str = "") -> list[str]:
        """Relative paths of the files directly in `folder` ending with `suffix`, sorted."""
        base = self.root / folder
        if not base.is_dir():
            return []
        return sorted(f"{folder}/{p.name}" for p in base.iterdir() if p.is_file() and p.name.endswith(suffix) and not p.name.startswith("."))

    def remove(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / rel).unlink()

    def link_or_copy(self, src_rel: str, dst_rel: str) -> None:
        """Place a copy of a stored file at `dst_rel` (a hard link where the file system allows)."""
        src, dst = self.root / src_rel, self.root / dst_rel
        if dst.exists():
            return
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp")
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """An exclusive advisory lock shared by every process using this store."""
        path = self.root / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return file_lock(path)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (created if absent), released on exit."""
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def image_rel(key: str) -> str:
    """Where the PNG of a generation key lives."""
    return f"images/{key[:2]}/{key}.png"


def ref_rel(sha256: str) -> str:
    """Where a real (reference or source) image lives, by its content hash."""
    return f"refs/{sha256[:2]}/{sha256}.png"


def run_rel(run_id: str, name: str = "") -> str:
    return f"runs/{run_id}/{name}" if name else f"runs/{run_id}"
