"""Append-only Parquet tables: each write adds one part named by its own sha256.

A part is never rewritten, so concurrent writers cannot corrupt each other, a crash leaves at most
a temp file behind, and a reader can verify every part against its name.

Part names are hashes and say nothing of when a part was written, so every row carries its write
time in the column WRITTEN (nanoseconds since the epoch, set by `append`, kept by `compact`), and
`read` returns rows in that order. Rows of parts from before this column sort first.
"""

from __future__ import annotations

import io
import logging
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from artifacts.keys import sha256_bytes
from artifacts.store import Store

log = logging.getLogger("diffeval")

GENERATIONS = "generations"
PROMPTS = "prompts"
RUNS = "runs"
FEATURES = "features"  # features/<extractor fingerprint>: one table per extractor
WRITTEN = "written_ns"

_clock = threading.Lock()
_last_stamp = 0


def features_table(extractor_fingerprint: str) -> str:
    return f"{FEATURES}/{extractor_fingerprint}"


def write_stamp() -> int:
    """Now in nanoseconds, strictly increasing within this process (two appends never tie)."""
    global _last_stamp
    with _clock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return _last_stamp


def append(store: Store, table: str, rows: pa.Table | list[dict], schema: pa.Schema | None = None) -> str | None:
    """Write `rows` as one new part of `table`, stamped with the write time; return its relative path (None for no rows).

    Rows that already carry WRITTEN (a compacted table) keep it, so merging parts keeps their order.
    """
    data = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema)
    if data.num_rows == 0:
        return None
    if WRITTEN not in data.column_names:
        data = data.append_column(WRITTEN, pa.array(np.full(data.num_rows, write_stamp(), dtype=np.int64)))
    buffer = io.BytesIO()
    pq.write_table(data, buffer, compression="zstd")
    payload = buffer.getvalue()
    rel = f"tables/{table}/{sha256_bytes(payload)}.parquet"
    if not store.exists(rel):
        store.write_bytes(rel, payload)
    return rel


def read(store: Store, table: str, columns: list[str] | None = None, keep=None) -> pa.Table | None:
    """All verified parts of `table` concatenated in write order (None when it has none).

    A part whose bytes do not match its name is skipped with a warning: its rows are then
    missing, so the work that produced them is redone rather than trusted. `keep(part)` may filter
    each part as it is read, so memory follows what is kept, not the whole table. WRITTEN orders
    the rows but is returned only when `columns` names it: callers see the columns they wrote.
    """
    ordered = _read_in_order(store, table, columns, keep)
    if ordered is None or WRITTEN not in ordered.column_names or (columns is not None and WRITTEN in columns):
        return ordered
    return ordered.drop_columns([WRITTEN])


def _read_in_order(store: Store, table: str, columns: list[str] | None = None, keep=None) -> pa.Table | None:
    """`read`, WRITTEN included."""
    for _ in range(3):
        try:
            parts = []
            for rel, payload in _payloads(store, store.list(f"tables/{table}", ".parquet")):
                part = _parse_part(store, rel, payload, columns)
                if part is not None:
                    parts.append(keep(part) if keep else part)
            break
        except FileNotFoundError:  # a concurrent compaction replaced the parts we listed: list again
            continue
    else:
        raise RuntimeError(f"{store.path('tables/' + table)}: parts kept disappearing while reading; retry the run")
    if not parts:
        return None
    return in_write_order(pa.concat_tables(sorted(parts, key=_first_stamp), promote_options="default"))


def read_new(store: Store, table: str, seen: set[str], columns: list[str] | None = None) -> pa.Table | None:
    """Rows of the parts of `table` not in `seen` (adding them to it), unordered: for watching a table grow.

    Parts are immutable, so a part read once never needs reading again; a part gone since the
    listing (compacted) is skipped, its rows come back in the merged part.
    """
    fresh = [rel for rel in store.list(f"tables/{table}", ".parquet") if rel not in seen]
    parts = []
    for rel, payload in _payloads(store, fresh, missing_ok=True):
        seen.add(rel)
        part = _parse_part(store, rel, payload, columns)
        if part is not None:
            parts.append(part)
    return pa.concat_tables(parts, promote_options="default") if parts else None


def _payloads(store: Store, rels: list[str], missing_ok: bool = False):
    """(rel, bytes) of each part: one at a time from a folder, in concurrent batches from an object store."""
    step = 1 if store.is_local else 64
    for start in range(0, len(rels), step):
        for rel, payload in store.read_many(rels[start : start + step]).items():
            if payload is not None:
                yield rel, payload
            elif not missing_ok:
                raise FileNotFoundError(rel)


def _parse_part(store: Store, rel: str, payload: bytes, columns: list[str] | None) -> pa.Table | None:
    if sha256_bytes(payload) != rel.rsplit("/", 1)[1].removesuffix(".parquet"):
        log.warning("%s: corrupt table part ignored; its rows will be recomputed", store.path(rel))
        return None
    part = parquet_file(payload)
    if columns is not None and WRITTEN not in columns and WRITTEN in part.schema_arrow.names:
        columns = [*columns, WRITTEN]
    return part.read(columns=columns, use_threads=False)


def parquet_file(payload: bytes) -> pq.ParquetFile:
    """A Parquet file in memory, to be read with `use_threads=False` (as every reader of store bytes does).

    ParquetFile, not read_table: the latter imports pyarrow.dataset (and pandas), 0.5 s per process.
    No threads: a threaded read leaves tasks in Arrow's thread pool that hold the last reference to
    the Python bytes; one finishing late, while the interpreter exits, needs the GIL for it, is made to
    exit by Python inside C++ code, and aborts the process (`terminate called without an active
    exception`, exit 134). BufferReader rather than BytesIO: read from a Python file, Arrow starts its
    IO thread pool even without threads. These parts are small; a thread pool gains nothing here.
    """
    return pq.ParquetFile(pa.BufferReader(payload))


def _first_stamp(part: pa.Table) -> int:
    """Sort key of a part: its earliest write time, -1 for parts written before the column existed."""
    if WRITTEN not in part.column_names:
        return -1
    first = pc.min(part.column(WRITTEN)).as_py()
    return -1 if first is None else first


def in_write_order(table: pa.Table) -> pa.Table:
    """`table` sorted by WRITTEN (stable, rows without it first); untouched when already in order."""
    if WRITTEN not in table.column_names:
        return table
    # Arrow compute only: converting to numpy, or making a scalar from a Python int, imports pandas (0.5 s).
    stamps = table.column(WRITTEN).combine_chunks()
    if stamps.null_count == 0 and not pc.any(pc.less(stamps[1:], stamps[:-1])).as_py():
        return table  # the usual case: parts sorted by their first row suffice
    keys = pa.Table.from_arrays([pc.is_valid(stamps), stamps], names=["valid", "stamp"])  # rows without a stamp first
    return table.take(pc.sort_indices(keys, sort_keys=[("valid", "ascending"), ("stamp", "ascending")]))  # stable


def latest_by(table: pa.Table | None, key_column: str) -> dict[str, dict]:
    """Rows keyed by `key_column`, the last written row winning (`read` returns rows in write order)."""
    if table is None:
        return {}
    return {row[key_column]: row for row in in_write_order(table).to_pylist()}


def compact(store: Store, table: str, min_parts: int = 2) -> None:
    """Merge the parts of `table` into one when there are at least `min_parts` (under the store lock).

    The merged part is written before the old ones are removed, so a reader sees every row at any
    moment (twice at worst, which `latest_by` absorbs).
    """
    if len(store.list(f"tables/{table}", ".parquet")) < max(min_parts, 2):
        return  # counted again under the lock; this first look spares most runs the lock
    with store.lock(f"table-{table.replace('/', '_')}"):
        old = store.list(f"tables/{table}", ".parquet")
        if len(old) < max(min_parts, 2):
            return
        merged = _read_in_order(store, table)  # WRITTEN kept: the merged part keeps the order
        if WRITTEN not in merged.column_names:  # only parts from before the column: they stay first
            merged = merged.append_column(WRITTEN, pa.nulls(merged.num_rows, pa.int64()))
        new = append(store, table, merged)
        for rel in old:
            if rel != new:
                store.remove(rel)


def compact_all(store: Store, min_parts: int = 16, small_min_parts: int = 4) -> None:
    """Compact every table with many parts, so that reads stay fast (each part is a read and a checksum).

    Feature tables hold vectors, megabytes per thousand images, and are merged at `min_parts`. The others
    (a row per image, run or vote) are small and read several times by every run, warm re-runs included:
    merged at `small_min_parts`, a warm re-run reads about 10 parts rather than 70.
    """
    parts = store.walk("tables", ".parquet")
    for folder in sorted({rel.rsplit("/", 1)[0] for rel in parts}):
        table = folder.removeprefix("tables/")
        compact(store, table, min_parts if table.startswith(f"{FEATURES}/") else small_min_parts)
