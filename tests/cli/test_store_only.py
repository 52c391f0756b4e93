"""Store-only commands (`inspect`, `accept`) in a fresh process: neither torch nor Prefect is imported, and no
Arrow thread-pool worker is left alive at exit (one that outlives the interpreter aborted `inspect` with exit 134).

The store is written directly with the artifacts layer (one finished run, its run tables, history, a vote),
so the test runs no flow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from artifacts import tables
from artifacts.history import append_history
from artifacts.runfiles import register_run, write_run_table
from artifacts.store import Store, run_rel
from artifacts.votes import VOTES, SCHEMA as VOTE_SCHEMA

REPO = Path(__file__).resolve().parents[2]
RUN = "20260101T000000Z-tiny-abc123"
COMMANDS = [["inspect", "runs"], ["inspect", "images"], ["inspect", "scores"], ["inspect", "metrics"],
            ["inspect", "history"], ["inspect", "votes"], ["inspect", "metrics", "--json"], ["inspect", "images", "--json"],
            ["accept", RUN, "--by", "alice", "--why", "the new normal"], ["inspect", "runs", "--json"]]
# Every command in one process; then which heavy modules it imported and which threads it still has.
PROBE = """
import contextlib, io, json, os, sys
from flows.app.cli import main
codes = []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        codes.append(main(argv))
tasks = "/proc/self/task"
names = [open(f"{tasks}/{t}/comm").read().strip() for t in sorted(os.listdir(tasks), key=int)] if os.path.isdir(tasks) else []
heavy = sorted(m for m in ("torch", "prefect", "transformers", "diffusers") if m in sys.modules)
print(json.dumps({"codes": codes, "heavy": heavy, "threads": names}))
"""


def _fake_store(root: Path) -> Store:
    """One finished text-to-image run of one model and two images, as the run writes it."""
    store = Store(root)
    cell = json.dumps({"seeds": 0})
    items = [{"key": f"k{i}", "variant": "tiny-a", "model": "tiny-a", "cell": cell, "condition_id": f"p{i}",
              "seed": 0, "sample_index": 0} for i in range(2)]
    write_run_table(store, RUN, "items", items)
    write_run_table(store, RUN, "scores", [{"key": f"k{i}", "variant": "tiny-a", "metric": "clip_score", "value": 30.0 + i,
                                            "condition_id": f"p{i}", "seed": 0, "sample_index": 0} for i in range(2)])
    metric = {"model": "tiny-a", "metric": "clip_score", "group": "all", "value": 30.5, "ci_low": 30.0, "ci_high": 31.0, "n": 2}
    write_run_table(store, RUN, "metrics", [metric])
    tables.append(store, tables.GENERATIONS, [{"key": f"k{i}", "prompt": f"prompt {i}", "sha256": "0" * 64} for i in range(2)])
    append_history(store, [{**metric, "run_id": RUN, "created": time.time(), "spec": "tiny", "task": "text-to-image",
                            "model_name": "tiny-a", "fingerprint": "f", "settings": cell, "baseline_run": None,
                            "verdict": None, "run_verdict": None}])
    vote = {name: None for name in VOTE_SCHEMA.names}
    tables.append(store, VOTES, [{**vote, "vote_id": "v1", "created": time.time()}], VOTE_SCHEMA)
    register_run(store, RUN, "tiny", "text-to-image", "completed", run_rel(RUN, "summary.json"))
    return store


def test_store_only_commands_import_neither_torch_nor_prefect_and_leave_no_pool_thread(tmp_path):
    store = _fake_store(tmp_path / "store")
    commands = [[*argv, "--store", str(store.root)] for argv in COMMANDS]
    # One BLAS thread, so that every thread but the main one is one a library started on its own.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["codes"] == [0] * len(COMMANDS), done.stderr[-2000:]
    assert probe["heavy"] == []
    # Threads inherit the process's name unless they set one: jemalloc's is named, Arrow's pool workers are not.
    main_name, *others = probe["threads"] or ["python"]
    assert [name for name in others if name == main_name] == [], probe["threads"]
