"""The feature cache: vectors keyed by (content sha256, extractor fingerprint), computed once ever."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from artifacts import claims, tables
from artifacts.store import Store

SHA = "sha256"


@dataclass
class FeatureSet:
    """Cached vectors of one extractor: row index by content sha, one [N, d] array per column."""

    index: dict[str, int]
    columns: dict[str, np.ndarray]

    def take(self, shas: list[str]) -> dict[str, np.ndarray]:
        """The rows of `shas`, in that order (every sha must be present)."""
        rows = np.fromiter((self.index[s] for s in shas), dtype=np.int64, count=len(shas))
        return {name: values[rows] for name, values in self.columns.items()}


def _vector_array(values: np.ndarray) -> pa.Array:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def cached_shas(store: Store, extractor: str) -> set[str]:
    """The content hashes `extractor` has vectors for (reads only that column)."""
    table = tables.read(store, tables.features_table(extractor), columns=[SHA])
    return set(table.column(SHA).to_pylist()) if table is not None else set()


def read_features(store: Store, extractor: str, only: set[str] | None = None) -> FeatureSet:
    """Verified cached vectors of `extractor`, all or `only` those shas (the last write of a sha wins)."""
    wanted = pa.array(sorted(only), pa.string()) if only is not None else None
    keep = (lambda part: part.filter(pc.is_in(part.column(SHA), value_set=wanted))) if wanted is not None else None
    table = tables.read(store, tables.features_table(extractor), keep=keep)
    if table is None or table.num_rows == 0:
        return FeatureSet({}, {})
    shas = table.column(SHA).to_pylist()
    index = {sha: i for i, sha in enumerate(shas)}
    columns = {}
    for name in table.column_names:
        if name == SHA:
            continue
        chunked = table.column(name).combine_chunks()
        columns[name] = chunked.flatten().to_numpy().reshape(len(shas), -1)  # flatten honours slices
    return FeatureSet(index, columns)


def write_features(store: Store, extractor: str, shas: list[str], columns: dict[str, np.ndarray]) -> None:
    """Append one part of vectors for `shas` (rows aligned with each column)."""
    arrays = {SHA: pa.array(shas, pa.string()), **{k: _vector_array(v) for k, v in columns.items()}}
    tables.append(store, tables.features_table(extractor), pa.table(arrays))


def extract_missing(store: Store, extractor: str, shas: list[str], load: Callable[[list[str]], Any],
                    compute: Callable[[Any], dict[str, np.ndarray]], batch_size: int, progress=None) -> tuple[int, int]:
    """Compute the vectors of the shas not yet cached, a batch at a time; return (extracted, reused).

    `load` turns a batch of shas into model inputs (reading images or texts); `compute` turns those
    inputs into named [n, d] arrays. Each batch is leased first (no other worker extracts it
    meanwhile) and written as soon as it is done, so a crash loses at most one batch. `extracted`
    counts this worker's batches; what other workers extracted meanwhile counts as reused.
    """
    unique = list(dict.fromkeys(shas))
    cached = cached_shas(store, extractor)
    missing = [s for s in unique if s not in cached]
    task = progress.add_task(f"features {extractor[:24]}", total=len(missing)) if progress and missing else None

    def work(batch: list[str]) -> None:
        write_features(store, extractor, batch, compute(load(batch)))
        if task is not None:
            progress.advance(task, len(batch))

    batches = [missing[start : start + batch_size] for start in range(0, len(missing), batch_size)]
    watch = claims.DoneWatch(store, tables.features_table(extractor), SHA)
    extracted = claims.work_claimed(store, f"features/{extractor}", batches, work, watch.done, key=lambda sha: sha)
    if task is not None:
        progress.update(task, completed=len(missing))
    return extracted, len(unique) - extracted


def gather(store: Store, extractor: str, shas: list[str]) -> dict[str, np.ndarray]:
    """The cached vectors of `shas` in order; a missing one is a bug in the caller (extract first)."""
    return read_features(store, extractor, set(shas)).take(shas)
