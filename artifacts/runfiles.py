"""Run folders and the run registry: per-run Parquet snapshots and one registry row per finished run."""

from __future__ import annotations

import io
import json
import time

import pyarrow as pa
import pyarrow.parquet as pq

from artifacts import tables
from artifacts.store import Store, run_rel


def write_run_table(store: Store, run_id: str, name: str, rows: list[dict]) -> str:
    """runs/<run_id>/<name>.parquet, written atomically (readable by pandas, polars, DuckDB)."""
    buffer = io.BytesIO()
    flat = [{k: (json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v) for k, v in r.items()} for r in rows]
    pq.write_table(pa.Table.from_pylist(flat), buffer)
    rel = run_rel(run_id, f"{name}.parquet")
    store.write_bytes(rel, buffer.getvalue())
    return rel


def read_run_table(store: Store, run_id: str, name: str) -> list[dict]:
    rel = run_rel(run_id, f"{name}.parquet")
    if not store.exists(rel):
        return []
    return tables.parquet_file(store.read_bytes(rel)).read(use_threads=False).to_pylist()


def register_run(store: Store, run_id: str, spec_name: str, task: str, status: str, summary_rel: str,
                 verdict: str | None = None, provenance: dict | None = None) -> None:
    """Append the run to the registry that `diffeval inspect runs` lists (written last: the completion marker).

    `verdict` (passed / regressed) decides whether later runs may take this one as their baseline;
    `provenance` (versions, device, lock) is kept as one JSON string per run.
    """
    tables.append(store, tables.RUNS, [{"run_id": run_id, "name": spec_name, "task": task, "status": status,
                                       "created": time.time(), "path": str(store.path(run_rel(run_id))), "summary": summary_rel,
                                       "verdict": verdict,
                                       "provenance": json.dumps(provenance, sort_keys=True) if provenance else None}])


def list_runs(store: Store) -> list[dict]:
    rows = tables.read(store, tables.RUNS)
    return sorted(rows.to_pylist(), key=lambda r: r["created"]) if rows is not None else []


def read_run_summary(store: Store, run_id: str) -> dict:
    """runs/<run_id>/summary.json as a dict ({} when the run has none or it is not JSON)."""
    rel = run_rel(run_id, "summary.json")
    if not store.exists(rel):
        return {}
    try:
        return json.loads(store.read_bytes(rel).decode("utf-8"))
    except ValueError:
        return {}
