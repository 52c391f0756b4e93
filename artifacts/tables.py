"""Append-only Parquet tables: each write adds one part named by its own sha256.

A part is never rewritten, so concurrent writers cannot corrupt each other, a crash leaves at most
a temp file behind, and a reader can verify every part against its name.
"""

from __future__ import annotations

import io
import logging
import pyarrow as pa
import pyarrow.parquet as pq

from artifacts.keys import sha256_bytes
from artifacts.store import CorruptArtifact, Store

log = logging.getLogger("diffeval")

GENERATIONS = "generations"
PROMPTS = "prompts"
RUNS = "runs"


def features_table(extractor_fingerprint: str) -> str:
    return f"features/{extractor_fingerprint}"


def append(store: Store, table: str, rows: pa.Table | list[dict], schema: pa.Schema | None = None) -> str | None:
    """Write `rows` as one new part of `table`; return its relative path (None for no rows)."""
    data = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema)
    if data.num_rows == 0:
        return None
    buffer = io.BytesIO()
    pq.write_table(data, buffer, compression="zstd")
    payload = buffer.getvalue()
    rel = f"tables/{table}/{sha256_bytes(payload)}.parquet"
    if not store.exists(rel):
        store.write_bytes(rel, payload)
    return rel


def read(store: Store, table: str, columns: list[str] | None = None, keep=None) -> pa.Table | None:
    """All verified parts of `table` concatenated (None when it has none).

    A part whose bytes do not match its name is skipped with a warning: its rows are then
    missing, so the work that produced them is redone rather than trusted. `keep(part)` may filter
    each part as it is read, so memory follows what is kept, not the whole table.
    """
    for _ in range(3):
        try:
            parts = []
            for rel in store.list(f"tables/{table}", ".parquet"):
                part = _read_part(store, rel, columns)
                if part is not None:
                    parts.append(keep(part) if keep else part)
            break
        except FileNotFoundError:  # a concurrent compaction replaced the parts we listed: list again
            continue
    else:
        raise RuntimeError(f"{store.path('tables/' + table)}: parts kept disappearing while reading; retry the run")
    if not parts:
        return None
    return pa.concat_tables(parts, promote_options="default")


def _read_part(store: Store, rel: str, columns: list[str] | None) -> pa.Table | None:
    expected = rel.rsplit("/", 1)[1].removesuffix(".parquet")
    try:
        payload = store.read_bytes(rel, expected)
    except CorruptArtifact:
        log.warning("%s: corrupt table part ignored; its rows will be recomputed", store.path(rel))
        return None
    # ParquetFile, not read_table: the latter imports pyarrow.dataset (and pandas), 0.5 s per process.
    return pq.ParquetFile(io.BytesIO(payload)).read(columns=columns)


def latest_by(table: pa.Table | None, key_column: str) -> dict[str, dict]:
    """Rows keyed by `key_column`, the last written row winning."""
    if table is None:
        return {}
    return {row[key_column]: row for row in table.to_pylist()}


def compact(store: Store, table: str, min_parts: int = 2) -> None:
    """Merge the parts of `table` into one when there are at least `min_parts` (under the store lock).

    The merged part is written before the old ones are removed, so a reader sees every row at any
    moment (twice at worst, which `latest_by` absorbs).
    """
    with store.lock(f"table-{table.replace('/', '_')}"):
        old = store.list(f"tables/{table}", ".parquet")
        if len(old) < max(min_parts, 2):
            return
        merged = read(store, table)
        new = append(store, table, merged)
        for rel in old:
            if rel != new:
                store.remove(rel)



def compact_all(store: Store, min_parts: int = 16) -> None:
    """Compact every table with at least `min_parts` parts (each run appends a few; reads stay fast)."""
    root = store.path("tables")
    if not root.is_dir():
        return
    for folder in sorted({p.parent for p in root.rglob("*.parquet")}):
        compact(store, folder.relative_to(root).as_posix(), min_parts)
