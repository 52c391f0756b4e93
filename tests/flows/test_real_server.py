"""The nightly loop through Prefect itself: a real `prefect server start`, `diffeval serve`, four triggered runs.

What a team runs: a server process with its own PREFECT_HOME (sqlite, analytics off), the deployment
served by `diffeval serve` (which starts each flow run as a process of its own), and runs triggered
with `run_deployment`, the second to fourth with `spec_path` pointing at a spec whose model names
swap weights (the regression). Checked in Prefect's own records: the flow-run states Completed,
Failed, Failed, (accept) Completed; log lines of served runs in the API; the task runs' DAG edges; a
work-pool deployment `nightly` beside it that serving and stopping `serve` leave as they found it.
Polls with generous deadlines and asserts no durations: a loaded 2-core machine only makes it slower.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from artifacts.runfiles import list_runs
from artifacts.store import Store
from flows.app.cli import main
from tests.flows.helpers import assert_dag, regression_spec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = "diffeval-evaluate/nightly-serve"
START_S = 300  # a server or `serve` start-up, on a busy machine
RUN_S = 600  # one flow run, start-up of its process included


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, ready, deadline_s: float, processes: list[subprocess.Popen], every_s: float = 1.0):
    """Poll `ready()` until it returns something truthy; fail with `what` past the deadline or when a process died."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{what}: {process.args[:4]} exited with {process.returncode} first; its output: {_tail(process)}")
        value = ready()
        if value:
            return value
        time.sleep(every_s)
    pytest.fail(f"{what}: not within {deadline_s:.0f} s")


def _tail(process: subprocess.Popen) -> str:
    log = Path(process.log_path)
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A subprocess in its own process group (so that its children end with it), output to `log`."""
    with open(log, "wb") as out:
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = str(log)
    return process


def _stop(process: subprocess.Popen) -> None:
    """SIGINT first (serve then pauses its deployment and stops its runs), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its group (flow-run processes, server workers)
    except ProcessLookupError:
        pass
    process.wait(60)


@pytest.fixture
def prefect_server(tmp_path):
    """A real Prefect server on a free port with its own home and sqlite database; yields (api url, env)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_UI_ENABLED": "false", "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"})
    server = _start([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    env, tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}/api"
    try:
        _wait("prefect server start", lambda: _answers(f"{url}/health"), START_S, [server])
        # Served runs must log to the API as a user's would: the variable is left unset, as on a fresh machine.
        yield url, {**env, "PREFECT_API_URL": url, "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    finally:
        _stop(server)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _client_call(url: str, call):
    """Run `call(client)` against the server at `url` (this process's own settings point at the test harness)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def run():
        async with get_client() as client:
            return await call(client)

    with temporary_settings(updates={PREFECT_API_URL: url}):
        return asyncio.run(run())


def _trigger(url: str, serve: subprocess.Popen, parameters: dict) -> tuple:
    """Start a run of the served deployment now and wait until it ends; return its id and final state type."""
    async def create(client):
        deployment = await client.read_deployment_by_name(DEPLOYMENT)
        return await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)

    flow_run = _client_call(url, create)

    async def final(client):
        state = (await client.read_flow_run(flow_run.id)).state
        return state.type.value if state is not None and state.is_final() else None

    return flow_run.id, _wait(f"flow run {flow_run.id}", lambda: _client_call(url, final), RUN_S, [serve], every_s=2.0)


def _deployed(url: str) -> bool:
    from prefect.exceptions import ObjectNotFound

    async def read(client):
        try:
            return await client.read_deployment_by_name(DEPLOYMENT)
        except ObjectNotFound:
            return None

    return _client_call(url, read) is not None


def _logs(url: str, flow_run_id) -> list:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    return _client_call(url, lambda c: c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))))


def _task_runs(url: str, flow_run_id) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    return _client_call(url, lambda c: c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))))


def _work_pool_deployment(url: str, spec: str, store: str):
    """Register `nightly` in a process work pool, as `prefect deploy` does; return how it reads back."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deploy import build_deployment

    _client_call(url, lambda c: c.create_work_pool(WorkPoolCreate(name="diffeval", type="process")))
    with temporary_settings(updates={PREFECT_API_URL: url}):
        build_deployment(spec, "0 2 * * *", "nightly", store).apply(work_pool_name="diffeval")
    return _pooled(url)


def _pooled(url: str) -> tuple:
    deployment = _client_call(url, lambda c: c.read_deployment_by_name("diffeval-evaluate/nightly"))
    return (deployment.work_pool_name, deployment.paused, [s.schedule.cron for s in deployment.schedules],
            deployment.parameters, deployment.path)


def test_four_nights_through_a_served_deployment(prefect_server, tiny_models, tmp_path):
    url, env = prefect_server
    store = str(tmp_path / "store")
    for name in ("good", "bad"):
        (tmp_path / name).mkdir()
    good, bad = (regression_spec(tmp_path / name, tiny_models, name == "bad") for name in ("good", "bad"))
    pooled = _work_pool_deployment(url, good, store)
    serve = _start([sys.executable, "-m", "flows.app.cli", "serve", good, "--store", store], env, tmp_path / "serve.log")
    try:
        _wait("diffeval serve registers its deployment", lambda: _deployed(url), START_S, [serve])
        nights = [_trigger(url, serve, {})]
        nights += [_trigger(url, serve, {"spec_path": bad}) for _ in range(2)]
        third = list_runs(Store(store))[-1]["run_id"]
        assert main(["accept", third, "--store", store, "--by", "ci", "--why", "swapped on purpose"]) == 0
        nights.append(_trigger(url, serve, {"spec_path": bad}))
        assert [state for _, state in nights] == ["COMPLETED", "FAILED", "FAILED", "COMPLETED"], _tail(serve)
        assert [r["verdict"] for r in list_runs(Store(store))] == ["passed", "regressed", "regressed", "passed"]

        # Log lines reach the API from the run's own process; they may land a moment after its final state.
        failed_logs = _wait("log lines of the regressed run", lambda: _logs(url, nights[1][0]), RUN_S, [serve])
        assert any("regression against run" in log.message for log in failed_logs), [log.message for log in failed_logs]
        assert_dag(_task_runs(url, nights[0][0]))
        _stop(serve)
        assert _pooled(url) == pooled and pooled[:3] == ("diffeval", False, ["0 2 * * *"])  # serve left it as it was
    finally:
        _stop(serve)
