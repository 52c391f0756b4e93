"""flows/app/interrupt.py on its own: results and errors pass through, a signal ends the process with one line."""

import contextvars
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows.app import interrupt
from tests.flows.helpers import sigint_as_by_default

REPO = Path(__file__).resolve().parents[2]
WAIT_FOR_SIGNAL = """
import os, signal, sys, threading, time
from flows.app.interrupt import run_interruptible
{setup}
def work():
    print("started", flush=True)
    {body}
    return 7
print("returned", run_interruptible(work), flush=True)
"""


def _python(setup: str, body: str) -> subprocess.Popen:
    code = WAIT_FOR_SIGNAL.format(setup=setup, body=body)
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_as_by_default)


def test_result_and_error_come_back_to_the_caller():
    before = [signal.getsignal(s) for s in interrupt.SIGNALS]
    assert interrupt.run_interruptible(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(KeyError, match="boom"):
        interrupt.run_interruptible(lambda: {}["boom"])
    assert [signal.getsignal(s) for s in interrupt.SIGNALS] == before  # handlers restored afterwards


def test_context_variables_reach_the_worker():
    var = contextvars.ContextVar("var")
    var.set("from the caller")
    assert interrupt.run_interruptible(var.get) == "from the caller"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_the_worker_is_busy_exits_128_plus_signal_with_one_line(signum):
    # The worker stands for a batch that cannot be interrupted: it never looks at the signal.
    proc = _python("", "while True: sum(range(10000))")
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    assert err.splitlines() == [interrupt.interrupted_line(signum)], err
    assert err.startswith(f"diffeval: interrupted ({signal.Signals(signum).name}); ")
    assert out == ""


def test_a_signal_the_shell_ignores_stays_ignored():
    # `cmd &` in a script and nohup start a process with SIGINT ignored; Ctrl-C in that terminal is not for it.
    proc = _python("signal.signal(signal.SIGINT, signal.SIG_IGN)", "os.kill(os.getpid(), signal.SIGINT); time.sleep(0.2)")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.splitlines() == ["started", "returned 7"], err


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_run_is_marked_cancelled():
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    @flow
    def capture() -> contextvars.Context:
        return contextvars.copy_context()

    context = capture()  # what the main thread sees of the command's thread: its flow run context
    interrupt._cancel_flow_run(context, signal.SIGTERM)
    flow_run_id = context.get(FlowRunContext.__var__).flow_run.id
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
    assert state.is_cancelled() and "interrupted by SIGTERM" in state.message

