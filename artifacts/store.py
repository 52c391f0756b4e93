"""The store: every byte diffeval keeps on disk goes through here.

Layout (browsable by a person):
    images/<key[:2]>/<key>.png              generated images, content addressed by generation key
    refs/<sha[:2]>/<sha>.png                real reference / source images, by content sha256
    tables/<table>/<sha256>.parquet         append-only table parts, named by their own checksum (rows
                                            ordered by their written_ns column, see artifacts/tables.py)
    runs/<run_id>/                          spec.yaml, metrics, scores, report.html, grid images
    locks/<name>.lock                       advisory locks for writers sharing one store

Folders are made on first write, so a run that stops on bad input leaves nothing behind, not even
the store folder. Files and folders get the process umask's permissions (0644 / 0755 under 022),
as any tool would give them, so that a teammate can read a shared store.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

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
    """A folder of artifacts with atomic writes and checksum-verified reads (created on first write)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = resolve_store_root(root)

    def check_writable(self) -> None:
        """Raise BadInput unless the store folder is writable or can be created; creates nothing."""
        existing = self.root
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise BadInput(f"store {self.root}: {existing} is not a folder; pass --store DIR with a writable folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise BadInput(f"store {self.root}: {existing} is not writable; pass --store DIR with a writable folder")

    def _make_folder(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"store {self.root}: cannot create {folder} ({exc.strerror}); pass --store DIR with a writable folder") from None

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
        self._make_folder(target.parent)
        tmp = _temp_beside(target)
        # os.open with 0o666, not mkstemp (always 0600): the umask decides, as for any other file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
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
        self._make_folder(dst.parent)
        tmp = _temp_beside(dst)
        try:
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """An exclusive advisory lock shared by every process using this store."""
        path = self.root / "locks" / f"{name}.lock"
        self._make_folder(path.parent)
        return file_lock(path)


def file_lock(path: Path) -> contextlib.AbstractContextManager:
    """An exclusive lock on `path` (created if absent, with the umask's permissions), released on exit."""
    # Imported here: only compaction and model builds take locks, and a warm run should not pay for it.
    from filelock import FileLock

    return FileLock(str(path))


def _temp_beside(target: Path) -> Path:
    """A temp name unique to this write, in the target's folder so that the final rename is atomic."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def image_rel(key: str) -> str:
    """Where the PNG of a generation key lives."""
    return f"images/{key[:2]}/{key}.png"


def ref_rel(sha256: str) -> str:
    """Where a real (reference or source) image lives, by its content hash."""
    return f"refs/{sha256[:2]}/{sha256}.png"


def run_rel(run_id: str, name: str = "") -> str:
    return f"runs/{run_id}/{name}" if name else f"runs/{run_id}"
