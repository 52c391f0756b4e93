"""`diffeval run` in subprocesses sharing one store, and what they left in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from artifacts import tables
from artifacts.store import Store, image_rel

REPO = Path(__file__).resolve().parents[2]


def start_run(spec: Path, store: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    """`diffeval run SPEC --store STORE --json` against the session's Prefect API, one torch thread."""
    from prefect.settings import PREFECT_API_URL

    full_env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "flows.app.cli", "run", str(spec), "--store", store, "--json", *args],
                            cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[dict | None, str]:
    """(the --json summary or None, stderr) once the run has ended."""
    out, err = proc.communicate(timeout=timeout)
    return (json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0 else None), err


def generation_counts(store: Store) -> Counter:
    """How many generation rows each key has: 1 everywhere means no image was made twice."""
    rows = tables.read(store, tables.GENERATIONS, columns=["key"])
    return Counter(rows.column("key").to_pylist()) if rows is not None else Counter()


def extraction_counts(store: Store) -> Counter:
    """How many times each (extractor, content sha) was extracted."""
    counts: Counter = Counter()
    for rel in {r.rsplit("/", 1)[0] for r in store.walk("tables/features", ".parquet")}:
        table = rel.removeprefix("tables/")
        counts.update((table, sha) for sha in tables.read(store, table, columns=["sha256"]).column("sha256").to_pylist())
    return counts


def images_verified(store: Store) -> dict[str, str]:
    """key → sha256 of every generated image, each checked against its row."""
    rows = tables.latest_by(tables.read(store, tables.GENERATIONS), "key")
    assert all(store.verify(image_rel(k), r["sha256"]) for k, r in rows.items())
    return {k: r["sha256"] for k, r in rows.items()}
