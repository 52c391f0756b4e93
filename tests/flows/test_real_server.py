"""The nightly loop through Prefect itself: a real `prefect server start`, `diffeval serve`, four triggered runs.

What a team runs: a server process with its own PREFECT_HOME (sqlite, analytics off), the deployment
served by `diffeval serve` (which starts each flow run as a process of its own), and runs triggered
with `run_deployment`, the second to fourth with `spec_path` pointing at a spec whose model names
swap weights (the regression). Checked in Prefect's own records: the flow-run states Completed,
Failed, Failed, (accept) Completed; log lines of served runs in the API; the task runs' DAG edges; a
work-pool deployment `nightly` beside it that serving and stopping `serve` leave as they found it.
On the same server: `diffeval run` against it, and prefect.yaml's `nightly-tiny` through `prefect deploy`
and a real `prefect worker start`, with diffeval's own log lines in the API for both.
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


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real Prefect server on a free port with its own home and sqlite database, shared by this module's
    tests (each uses its own deployments, pool and store); yields (api url, env)."""
    tmp_path = tmp_path_factory.mktemp("prefect-server")
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
    return flow_run.id, _wait(f"flow run {flow_run.id}", _flow_run_final(url, flow_run.id), RUN_S, [serve], every_s=2.0)


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
        _wait("log lines of the regressed run", _has_lines(url, nights[1][0], ["regression against run", "verdict: regressed against run",
                                                                                "report: "]), RUN_S, [serve])
        assert_dag(_task_runs(url, nights[0][0]))
        _stop(serve)
        assert _pooled(url) == pooled and pooled[:3] == ("diffeval", False, ["0 2 * * *"])  # serve left it as it was
    finally:
        _stop(serve)


def _flow_run_final(url: str, flow_run_id):
    async def final(client):
        state = (await client.read_flow_run(flow_run_id)).state
        return state.type.value if state is not None and state.is_final() else None

    return lambda: _client_call(url, final)


def _cli_flow_run(url: str):
    """The one flow run on this server that no deployment started: the `diffeval run` one."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId

    runs = _client_call(url, lambda c: c.read_flow_runs(flow_run_filter=FlowRunFilter(
        deployment_id=FlowRunFilterDeploymentId(is_null_=True))))
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0].id


def _has_lines(url: str, flow_run_id, wanted: list[str]):
    """A poll: the run's API log records once every wanted fragment is in one of them (they land after its end)."""
    def ready():
        logs = _logs(url, flow_run_id)
        return logs if all(any(w in log.message for log in logs) for w in wanted) else None
    return ready


def _summary_lines(summary: dict) -> list[str]:
    c = summary["counts"]
    return [f"run {summary['run_id']} of spec nightly-tiny: {c['images_planned']} images ({c['images_generated']} generated",
            "verdict: ", f"report: {summary['report']}"]


def test_worker_and_cli_runs_log_to_the_api(prefect_server, tiny_models, tmp_path):
    """`diffeval run` against the server, then prefect.yaml's `nightly-tiny` through `prefect deploy` and a real
    `prefect worker start` on a process pool: diffeval's lines (counts, verdict, report path, and a warning of the
    `diffeval` logger) are in the API's logs of both flow runs."""
    import json

    url, env = prefect_server
    project, store = tmp_path / "project", str(tmp_path / "store")
    (project / "specs").mkdir(parents=True)
    (project / "tiny-models").symlink_to(Path(tiny_models["sd-a"]).parent)  # where `diffeval models tiny --out tiny-models` builds
    spec = project / "specs" / "nightly-tiny.yaml"
    spec.write_bytes((REPO / "specs" / "nightly-tiny.yaml").read_bytes())  # the shipped spec, verbatim
    half = project / "specs" / "nightly-tiny-f16.yaml"  # float16 on the CPU: same keys, and a notice from the diffeval logger
    half.write_text(spec.read_text().replace("dtype: float32", "dtype: float16"))

    cli = subprocess.run([sys.executable, "-m", "flows.app.cli", "run", str(spec), "--store", store, "--json"], cwd=REPO,
                         env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=RUN_S)
    assert cli.returncode == 0, cli.stderr[-3000:]
    first = json.loads(cli.stdout)
    assert "verdict: " not in cli.stderr  # the terminal gets the printed summary, not the log lines again
    _wait("log lines of the `diffeval run` flow run", _has_lines(url, _cli_flow_run(url), _summary_lines(first)), RUN_S, [])

    from prefect.client.schemas.actions import WorkPoolCreate

    _client_call(url, lambda c: c.create_work_pool(WorkPoolCreate(name="diffeval-tiny", type="process")))
    deploy = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--name", "nightly-tiny", "--pool",
                             "diffeval-tiny"], cwd=REPO, env=env, capture_output=True, text=True, timeout=START_S)
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    deployment = _client_call(url, lambda c: c.read_deployment_by_name("diffeval-evaluate/nightly-tiny"))
    assert deployment.parameters == {"spec_path": "specs/nightly-tiny.yaml", "store": None}
    assert [s.schedule.cron for s in deployment.schedules] == ["0 2 * * *"]
    assert deployment.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]

    worker = _start([sys.executable, "-m", "prefect", "worker", "start", "--pool", "diffeval-tiny", "--type", "process"],
                    {**env, "PREFECT_WORKER_QUERY_SECONDS": "2", "OMP_NUM_THREADS": "1"}, tmp_path / "worker.log")
    try:
        flow_run = _client_call(url, lambda c: c.create_flow_run_from_deployment(
            deployment.id, parameters={"spec_path": str(half), "store": store}))
        assert _wait(f"worker flow run {flow_run.id}", _flow_run_final(url, flow_run.id), RUN_S, [worker], 2.0) == "COMPLETED", _tail(worker)
        wanted = ["22 images (0 generated, 22 reused)", f"verdict: passed against run {first['run_id']}", "report: ",
                  "dtype float16 on cpu: float32 is used instead"]
        logs = _wait("log lines of the worker's flow run", _has_lines(url, flow_run.id, wanted), RUN_S, [worker])
        assert {log.name for log in logs if "float16 on cpu" in log.message} == {"diffeval"}
    finally:
        _stop(worker)
