"""The local Prefect server of runs with no PREFECT_API_URL: started once, reused, untouched by a signal to a run,
stopped by `diffeval server stop`. Every process here gets its own PREFECT_HOME (not the session's, not a user's).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows import local_server
from flows.app.interrupt import interrupted_line
from tests.flows.helpers import run_until_images, session_pids, t2i_spec

REPO = Path(__file__).resolve().parents[2]
PROMPTS = [f"a {c} {s} number {i}" for i, (c, s) in enumerate(
    [(c, s) for c in ("red", "blue", "green", "yellow") for s in ("cat", "dog", "circle", "square")])]
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to list a run's processes")


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", local_server.OPT_OUT)}
    return env | {"PREFECT_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
                  "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"}


def _cli(home: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.app.cli", *argv], cwd=REPO, env=_env(home), capture_output=True,
                          text=True, timeout=timeout)


def _server_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("diffeval: Prefect server ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A Prefect home for this module's runs; whatever server they leave there is stopped at the end."""
    folder = tmp_path_factory.mktemp("prefect-home")
    yield folder
    local_server.stop_server(folder)


@needs_proc
def test_a_second_run_reuses_the_server_a_signal_leaves_it_and_stop_stops_it(home, tmp_path, tiny_models):
    spec = t2i_spec(tmp_path, tiny_models, prompts=PROMPTS[:2], names=("a",))
    first = _cli(home, "run", str(spec), "--store", str(tmp_path / "store"), "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "started now" in _server_line(first.stderr)
    record = local_server.read_record(home)
    assert record is not None and record["url"] in _server_line(first.stderr)

    second = _cli(home, "run", str(spec), "--store", str(tmp_path / "store"), "--json")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "reused" in _server_line(second.stderr) and f"pid {record['pid']}" in _server_line(second.stderr)
    assert json.loads(second.stdout)["counts"]["images_generated"] == 0
    assert "Starting temporary server" not in first.stderr + second.stderr

    for signum in (signal.SIGTERM, signal.SIGINT):
        _signal_mid_generation(home, tmp_path / signal.Signals(signum).name, tiny_models, signum)
        assert local_server.read_record(home) == record and local_server._healthy(record["url"], 10), "the server must stay"

    status = _cli(home, "server", "status")
    assert status.returncode == 0 and record["url"] in status.stdout and "answers" in status.stdout
    stop = _cli(home, "server", "stop")
    assert stop.returncode == 0 and stop.stdout.startswith(f"stopped the local Prefect server {record['url']}"), stop
    assert not local_server._ours(record["pid"]) and local_server.read_record(home) is None
    assert not local_server._healthy(record["url"], 2)
    assert _cli(home, "server", "stop").stdout.startswith("no local Prefect server recorded")


def _signal_mid_generation(home: Path, folder: Path, tiny_models: dict, signum: int) -> None:
    """A run on the reused server gets `signum` mid-generation: out with one line, nothing of it left running."""
    folder.mkdir()
    spec = t2i_spec(folder, tiny_models, prompts=PROMPTS, names=("a",), generation={"batch_size": 2, "steps": 4})
    store = folder / "store"
    proc = run_until_images(spec, store, _env(home), folder / "stderr", 2)
    try:
        assert proc.poll() is None, (folder / "stderr").read_text()
        os.kill(proc.pid, signum)
        rc = proc.wait(timeout=10)
    finally:
        if proc.poll() is None or session_pids(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stderr = (folder / "stderr").read_text()
    assert rc == 128 + signum, stderr
    assert "reused" in _server_line(stderr)
    assert [line for line in stderr.splitlines() if line.strip()][-1] == interrupted_line(signum), stderr
    assert session_pids(proc.pid) == [], "a process of the run outlived it"


def test_a_configured_api_is_used_as_it_is(tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    with temporary_settings(updates={PREFECT_HOME: str(tmp_path), PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        with local_server.local_api() as url:
            assert url == "http://127.0.0.1:9/api"
    monkeypatch.setenv(local_server.OPT_OUT, "0")  # opted out: Prefect's temporary server, as before
    with temporary_settings(updates={PREFECT_HOME: str(tmp_path)}, restore_defaults={PREFECT_API_URL}):
        with local_server.local_api() as url:
            assert url is None and PREFECT_API_URL.value() is None
    assert local_server.read_record(tmp_path) is None and not (tmp_path / local_server.LOG).exists()


def test_a_stale_record_is_not_trusted(tmp_path):
    """A record whose process is gone (a reboot, a kill -9) is no server: status says so and stop removes it."""
    (tmp_path / local_server.RECORD).write_text(json.dumps({"pid": 2**22 + 7, "url": "http://127.0.0.1:9", "log": "x",
                                                            "started": 0.0}))
    assert local_server.server_status(tmp_path).endswith("does not answer")
    assert "had already ended" in local_server.stop_server(tmp_path)
    assert local_server.read_record(tmp_path) is None
