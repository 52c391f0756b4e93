"""SIGTERM / SIGINT to `diffeval run` mid-generation: out within 5 s with one line, no process left, then resume."""

import os
import signal
from pathlib import Path

import pytest

from flows.app.cli import run_spec
from flows.app.interrupt import interrupted_line
from tests.flows.helpers import run_until_images, session_pids, t2i_spec

PROMPTS = [f"a {c} {s} number {i}" for i, (c, s) in enumerate(
    [(c, s) for c in ("red", "blue", "green", "yellow") for s in ("cat", "dog", "circle", "square")])]
pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to list the run's processes")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_generation_stops_cleanly_then_resumes(signum, tmp_path, tiny_models):
    spec = t2i_spec(tmp_path, tiny_models, prompts=PROMPTS, generation={"batch_size": 2, "steps": 4})
    store = tmp_path / "store"
    # No PREFECT_API_URL and the local server opted out: the run starts Prefect's temporary server, the process
    # that used to be orphaned (the local server, which stays, is tests/flows/test_local_server.py's).
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"OMP_NUM_THREADS": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300", "DIFFEVAL_LOCAL_SERVER": "0"}
    proc = run_until_images(spec, store, env, tmp_path / "stderr", 4)
    try:
        assert proc.poll() is None, (tmp_path / "stderr").read_text()
        children = [pid for pid in session_pids(proc.pid) if pid != proc.pid]
        assert children, "the temporary Prefect server should be running beside the run"
        os.kill(proc.pid, signum)
        rc = proc.wait(timeout=5)  # the promise to the user: out within 5 s, the batch in flight abandoned
    finally:
        if proc.poll() is None or session_pids(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stderr = (tmp_path / "stderr").read_text()
    assert rc == 128 + signum, stderr
    assert [line for line in stderr.splitlines() if line.strip()][-1] == interrupted_line(signum), stderr
    assert "Traceback" not in stderr and "Crash" not in stderr, stderr
    assert session_pids(proc.pid) == [], "a process of the run outlived it"

    before = {p: p.stat().st_mtime_ns for p in store.glob("images/*/*.png")}
    assert 4 <= len(before) < 32, "the signal must land during generation"
    summary = run_spec(str(spec), str(store))
    counts = summary["counts"]
    assert counts["images_planned"] == 32 and counts["images_generated"] + counts["images_reused"] == 32
    assert counts["images_reused"] >= len(before) - 2  # at most the batch in flight is redone
    assert sum(p.stat().st_mtime_ns == mtime for p, mtime in before.items()) >= len(before) - 2
