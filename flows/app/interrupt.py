"""SIGINT and SIGTERM during `diffeval run`: one line, nothing left running, exit 130 or 143.

Left to Prefect, SIGTERM raises in the flow's thread, whose thread pool then waits for the batch being
generated (tens of seconds on a CPU) before reporting a crash, and the temporary Prefect server (a
uvicorn subprocess, started when no PREFECT_API_URL is set) outlives us with PPID 1. So the command
runs in a worker thread and the main thread only waits, free to take the signal at once: it marks the
flow run cancelled, stops the server and ends the process without waiting for the batch in flight.
That loses only that batch: images and table parts are written to a temp file and renamed, a row is
appended after its image, so the next run finds everything that was finished.
"""

from __future__ import annotations

import contextvars
import os
import signal
import subprocess
import sys
import threading
from typing import Any, Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Each clean-up step is bounded, so that together they stay well inside the 5 s a user waits.
STEP_SECONDS = 1.5
WAKE_SECONDS = 0.1  # how often the waiting main thread looks for a signal the worker thread received


def interrupted_line(signum: int) -> str:
    return f"diffeval: interrupted ({signal.Signals(signum).name}); finished work is kept, run the same command again to resume"


def run_interruptible(fn: Callable[..., Any], *args: Any) -> Any:
    """Return fn(*args), run in a worker thread; SIGINT or SIGTERM meanwhile end the process (exit 128 + signal)."""
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)  # only the main thread receives signals
    context = contextvars.copy_context()  # carries Prefect's settings in, and lets us read its flow run out
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = context.run(fn, *args)
        except BaseException as exc:  # handed to the caller's thread, as if fn had run there
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="diffeval-command", daemon=True)
    handler = _handler(context)
    # A signal the shell told us to ignore (nohup, `&` in a script) stays ignored.
    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        worker.start()
        # In short waits, not one join(): the kernel may hand SIGINT/SIGTERM to any thread, and one that lands
        # on a busy worker only flags it for the main thread, which a join() blocked forever would never see.
        while worker.is_alive():
            worker.join(WAKE_SECONDS)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _handler(context: contextvars.Context) -> Callable[[int, Any], None]:
    def on_signal(signum: int, frame: Any) -> None:
        for sig in SIGNALS:  # a second Ctrl-C must not cut the clean-up short and orphan the server
            signal.signal(sig, signal.SIG_IGN)
        try:
            stderr = _silence_stderr()
            os.write(stderr, (_tty_reset(stderr) + interrupted_line(signum) + "\n").encode())
            _bounded(_cancel_flow_run, context, signum)
            _stop_temporary_server()
            sys.stdout.flush()  # what earlier runs of `demo` printed
        finally:  # whatever a clean-up step raised: left to propagate, it would keep the process alive
            os._exit(128 + signum)

    return on_signal


def _silence_stderr() -> int:
    """Point fd 2 at /dev/null, so that the threads still running print nothing after our line; return the real one."""
    real = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    return real


def _tty_reset(fd: int) -> str:
    # A progress bar on a terminal hides the cursor and leaves it at the end of its line.
    return "\x1b[?25h\n" if os.isatty(fd) else ""


def _bounded(fn: Callable[..., None], *args: Any) -> None:
    """fn(*args) for at most STEP_SECONDS; an API that does not answer must not keep the process alive."""
    thread = threading.Thread(target=_quietly, args=(fn, *args), daemon=True)
    thread.start()
    thread.join(STEP_SECONDS)


def _quietly(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # the run is ending anyway; its state in the UI is a courtesy
        pass


def _cancel_flow_run(context: contextvars.Context, signum: int) -> None:
    """Mark the command's flow run Cancelled, so that the Prefect UI does not show it running forever."""
    if "prefect.context" not in sys.modules:
        return  # the signal came before any flow started
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext
    from prefect.states import Cancelled

    flow_run_context = context.get(FlowRunContext.__var__)
    if flow_run_context is None or flow_run_context.flow_run is None:
        return
    with get_client(sync_client=True) as client:
        message = f"interrupted by {signal.Signals(signum).name}; run the same command again to resume"
        client.set_flow_run_state(flow_run_context.flow_run.id, Cancelled(message=message), force=True)


def _stop_temporary_server() -> None:
    """Stop the uvicorn subprocess Prefect started as its temporary API server, if it did."""
    # Half imported (another thread is importing it as the signal comes): then no server was started from it.
    server_class = getattr(sys.modules.get("prefect.server.api.server"), "SubprocessASGIServer", None)
    if server_class is None:
        return
    process = server_class().server_process  # the instance `get_client` starts with no PREFECT_API_URL
    if process is None:
        return
    process.terminate()
    try:
        process.wait(STEP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
