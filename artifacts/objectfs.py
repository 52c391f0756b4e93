"""A store on object storage or any other fsspec URL (s3://, gs://, az://, memory://, ...).

Objects are written once, in one request, under names derived from their content (generation keys,
checksums, run ids), so there is no temp file and no rename: an object store shows a PUT whole or
not at all, and a multipart upload only once it completes. `create` is the one conditional write
(S3 `If-None-Match: *`, fsspec's mode="create"), on which leases rest. Any failure to reach the
store becomes one StoreUnreachable line; the work already written stays valid for the next run.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from artifacts.errors import BadInput, StoreUnreachable

# Buckets may be checked for existence; other protocols have no such notion.
BUCKET_PROTOCOLS = ("s3", "s3a", "gs", "gcs", "az", "abfs")


class ObjectFolder:
    """The bytes of a store under an fsspec URL; `Store` adds checksums on top."""

    is_local = False

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.protocol = self.url.split("://", 1)[0]
        self._fs = None
        self._base = ""

    @property
    def fs(self):
        if self._fs is None:
            import fsspec

            try:
                # No listing cache: other workers write to the same prefix, and a cached listing hides their parts.
                self._fs, self._base = fsspec.core.url_to_fs(self.url, use_listings_cache=False)
            except ImportError as exc:
                raise BadInput(f"store {self.url}: the {self.protocol}:// protocol needs a package ({exc}); "
                               f"install it (e.g. pip install s3fs for s3://) or pass a local --store DIR") from None
            except ValueError as exc:
                raise BadInput(f"store {self.url}: not a URL fsspec knows ({exc}); pass a local folder or an s3:// gs:// ... URL") from None
            self._base = self._base.rstrip("/")
        return self._fs

    @contextlib.contextmanager
    def _guard(self, action: str, rel: str = "") -> Iterator[None]:
        """Missing and already-existing objects pass through; anything else means the store cannot be used."""
        try:
            yield
        except (FileNotFoundError, FileExistsError, BadInput):
            raise
        except Exception as exc:  # noqa: BLE001 - network, credentials, throttling: all one line for the user
            detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise StoreUnreachable(f"store {self.url}: cannot {action} {rel or 'it'} ({type(exc).__name__}: {detail}); "
                                   "check the endpoint and credentials, then run the same command again: finished work is kept") from None

    def _full(self, rel: str) -> str:
        return f"{self._base}/{rel}" if rel else self._base

    def _rel(self, name: str) -> str:
        return name.rstrip("/")[len(self._base) + 1 :] if name.startswith(self._base) else name.lstrip("/")

    def check_writable(self) -> None:
        """Raise BadInput for an unknown protocol or a missing bucket, StoreUnreachable when the store cannot be reached."""
        fs = self.fs
        if self.protocol not in BUCKET_PROTOCOLS:
            return
        bucket = self._base.split("/", 1)[0]
        try:
            with self._guard("reach", f"bucket {bucket}"):
                fs.ls(bucket)  # not exists(): it answers False for an unreachable endpoint too
        except FileNotFoundError:
            raise BadInput(f"store {self.url}: bucket {bucket} not found; create it or pass another --store") from None

    def path(self, rel: str) -> str:
        return f"{self.url}/{rel}" if rel else self.url

    def exists(self, rel: str) -> bool:
        with self._guard("look up", rel):
            return self.fs.isfile(self._full(rel))

    def write(self, rel: str, data: bytes, durable: bool = True) -> None:
        """One PUT: visible whole once it returns (`durable` is implied by the store's acknowledgement)."""
        with self._guard("write", rel):
            self.fs.pipe_file(self._full(rel), data)

    def create(self, rel: str, data: bytes) -> bool:
        """Write `rel` only if absent (an atomic conditional PUT); False when it already exists."""
        try:
            with self._guard("write", rel):
                self.fs.pipe_file(self._full(rel), data, mode="create")
        except FileExistsError:
            return False
        return True

    def read(self, rel: str) -> bytes:
        with self._guard("read", rel):
            return self.fs.cat_file(self._full(rel))

    def read_many(self, rels: list[str]) -> dict[str, bytes | None]:
        """Several objects fetched concurrently (one round trip per batch on async stores); None where absent."""
        if not rels:
            return {}
        full = {self.fs._strip_protocol(self._full(r)): r for r in rels}
        with self._guard("read", f"{len(rels)} objects under {rels[0].rsplit('/', 1)[0]}"):
            got = self.fs.cat(list(full), on_error="return")
        out = {}
        for name, rel in full.items():
            value = got.get(name)
            if isinstance(value, FileNotFoundError) or value is None:
                out[rel] = None
            elif isinstance(value, BaseException):
                with self._guard("read", rel):
                    raise value
            else:
                out[rel] = value
        return out

    def _ls(self, folder: str) -> list[dict]:
        with self._guard("list", folder):
            try:
                return self.fs.ls(self._full(folder), detail=True)
            except FileNotFoundError:
                return []

    def list(self, folder: str, suffix: str = "") -> list[str]:
        """Relative paths of the objects directly under `folder` ending with `suffix`, sorted."""
        names = (self._rel(e["name"]) for e in self._ls(folder) if e.get("type") == "file")
        return sorted(n for n in names if n.endswith(suffix) and not n.rsplit("/", 1)[-1].startswith("."))

    def walk(self, folder: str, suffix: str = "") -> list[str]:
        """Relative paths of every object under `folder` ending with `suffix`, sorted."""
        with self._guard("list", folder):
            try:
                names = self.fs.find(self._full(folder))
            except FileNotFoundError:
                return []
        return sorted(self._rel(n) for n in names if n.endswith(suffix) and not n.rsplit("/", 1)[-1].startswith("."))

    def remove(self, rel: str) -> None:
        with self._guard("remove", rel), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._full(rel))

    def link_or_copy(self, src_rel: str, dst_rel: str) -> None:
        """A server-side copy (objects have no links); skipped when the copy exists (names are content-derived)."""
        if self.exists(dst_rel):
            return
        with self._guard("copy", src_rel):
            self.fs.copy(self._full(src_rel), self._full(dst_rel))
