"""A store on a local (or mounted) folder: temp file + rename, umask permissions, filelock locks.

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


class LocalFolder:
    """The bytes of a store kept in a folder; `Store` adds checksums on top."""

    is_local = True

    def __init__(self, root: Path):
        self.root = root

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

    def write(self, rel: str, data: bytes, durable: bool = True) -> None:
        """Write atomically: temp file in the same folder, fsync unless `durable=False`, rename."""
        target = self.root / rel
        self._make_folder(target.parent)
        tmp = self._write_temp(target, data, durable)
        try:
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def create(self, rel: str, data: bytes) -> bool:
        """Write `rel` only if it does not exist yet (False when it does); readers never see it half-written.

        Not fsynced: only leases are made this way, and a lease lost in a power cut belonged to a
        worker that the same cut stopped.
        """
        target = self.root / rel
        self._make_folder(target.parent)
        tmp = self._write_temp(target, data, durable=False)
        try:
            os.link(tmp, target)  # unlike rename, link refuses to replace: an atomic create-if-absent
        except FileExistsError:
            return False
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return True

    def _write_temp(self, target: Path, data: bytes, durable: bool) -> Path:
        tmp = _temp_beside(target)
        # os.open with 0o666, not mkstemp (always 0600): the umask decides, as for any other file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return tmp

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def list(self, folder: str, suffix: str = "") -> list[str]:
        """Relative paths of the files directly in `folder` ending with `suffix`, sorted."""
        base = self.root / folder
        if not base.is_dir():
            return []
        return sorted(f"{folder}/{p.name}" for p in base.iterdir() if p.is_file() and p.name.endswith(suffix) and not p.name.startswith("."))

    def walk(self, folder: str, suffix: str = "") -> list[str]:
        """Relative paths of every file under `folder` (at any depth) ending with `suffix`, sorted."""
        base = self.root / folder
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob(f"*{suffix}") if p.is_file() and not p.name.startswith("."))

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
