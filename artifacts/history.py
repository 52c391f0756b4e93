"""The history table: every finished run's metric rows, with the run's time, models and verdicts.

One row per run, model (variant), metric and group (tasks/reporting/history.py makes them). Rows are
appended when a run finishes, before the run is registered; a run that crashed in between left rows
that no registered run owns, so `read_history` keeps only registered runs' rows (the registry row is
the completion marker) and a resumed run's rows are never counted twice.
"""

from __future__ import annotations

import pyarrow as pa

from artifacts import tables
from artifacts.runfiles import list_runs
from artifacts.store import Store

HISTORY = "history"
COLUMNS = ("run_id", "created", "spec", "task", "model", "model_name", "fingerprint", "settings", "metric", "group",
           "value", "ci_low", "ci_high", "n", "baseline_run", "verdict", "run_verdict")
SCHEMA = pa.schema([("run_id", pa.string()), ("created", pa.float64()), ("spec", pa.string()), ("task", pa.string()),
                    ("model", pa.string()), ("model_name", pa.string()), ("fingerprint", pa.string()),
                    ("settings", pa.string()), ("metric", pa.string()), ("group", pa.string()), ("value", pa.float64()),
                    ("ci_low", pa.float64()), ("ci_high", pa.float64()), ("n", pa.int64()), ("baseline_run", pa.string()),
                    ("verdict", pa.string()), ("run_verdict", pa.string())])


def append_history(store: Store, rows: list[dict]) -> None:
    """Add one run's rows to the history table (one new part, written atomically)."""
    tables.append(store, HISTORY, rows, SCHEMA)


def read_history(store: Store, spec: str | None = None, metric: str | None = None) -> list[dict]:
    """History rows of registered runs, oldest run first; only `spec`'s and `metric`'s where given."""
    data = tables.read(store, HISTORY)
    if data is None:
        return []
    registered = {r["run_id"]: r["created"] for r in list_runs(store)}
    rows = [r for r in data.to_pylist() if r["run_id"] in registered
            and (spec is None or r["spec"] == spec) and (metric is None or r["metric"] == metric)]
    # A run's rows come from one part, so a stable sort by run time keeps each run's own order.
    return sorted(({c: r.get(c) for c in COLUMNS} for r in rows), key=lambda r: registered[r["run_id"]])
