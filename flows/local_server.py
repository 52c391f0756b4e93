"""Prefect's API for commands that run flows when none is configured: one local server, reused across runs.

With no PREFECT_API_URL, Prefect starts a temporary server in every process and stops it at exit; on a
2-core machine that is most of a warm re-run (18 s against a 5 s import floor). Instead the first run starts
`prefect server start` on a free loopback port, in its own session (so Ctrl-C or SIGTERM of the run does
not reach it), with its log and a record (pid, URL) in PREFECT_HOME; later runs find it through the record,
check /api/health, and use it. It stays until `diffeval server stop`, and serves Prefect's UI meanwhile.

A configured API (PREFECT_API_URL in the environment, a Prefect profile or settings file) is always used
as it is. DIFFEVAL_LOCAL_SERVER=0 keeps Prefect's own temporary server per run (nothing left running).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from artifacts.errors import BadInput

OPT_OUT = "DIFFEVAL_LOCAL_SERVER"  # "0": a temporary server per run, as Prefect does by default
RECORD = "diffeval-server.json"
LOG = "diffeval-server.log"
STOP_SECONDS = 10.0
_announced: set[str] = set()  # URLs already announced by this process (`demo` runs three specs)


def prefect_home() -> Path:
    """Prefect's home as Prefect resolves it (environment, profile, settings files)."""
    from prefect.settings import PREFECT_HOME

    return Path(PREFECT_HOME.value()).expanduser()


def _startup_seconds() -> float:
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    return float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())


@contextlib.contextmanager
def local_api() -> Iterator[str | None]:
    """Inside, Prefect uses the configured API, else the local server (started now if none answers); yields its URL.

    With the local server, every flow run inside shares one client (SyncClientContext, which Prefect's engine
    and artifacts reuse when present): a process that runs several flows (`diffeval demo`, a notebook, the
    rescore bench) keeps one connection rather than paying per run for a new TLS context (certifi's bundle
    read), a connection and an API version check. A configured API is left to Prefect, as it is.
    """
    from prefect.context import SyncClientContext
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value() or os.environ.get(OPT_OUT, "1") == "0":
        yield PREFECT_API_URL.value() or None
        return
    record, how = ensure_server(prefect_home())
    url = f"{record['url']}/api"
    if url not in _announced:
        _announced.add(url)
        print(f"diffeval: Prefect server {record['url']} (local, pid {record['pid']}, {how}; UI there; "
              f"`diffeval server stop` stops it)", file=sys.stderr, flush=True)
    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url  # processes started from here (task runners, workers) use it too
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}), SyncClientContext.get_or_create():
            yield url
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved


def ensure_server(home: Path) -> tuple[dict, str]:
    """The record of a local server that answers, and how it came to be ("reused" or "started now")."""
    from artifacts.localfs import file_lock

    home.mkdir(parents=True, exist_ok=True)
    with file_lock(home / f"{RECORD}.lock"):  # two runs at once start one server
        record = read_record(home)
        if record is not None and _healthy(record["url"], 2.0):
            return record, "reused"
        if record is not None and _ours(record["pid"]) and time.time() - record["started"] < _startup_seconds():
            # Started by a run that was interrupted while it waited: wait for it rather than start another.
            if _wait_healthy(record, _startup_seconds() - (time.time() - record["started"])):
                return record, "reused"
        if record is not None:
            _stop(record)
        return _start(home), "started now"


def _start(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": env.get("PREFECT_SERVER_ANALYTICS_ENABLED", "false")}
    for _ in range(2):  # a second try on another port, should another process have taken the free one meanwhile
        url = f"http://127.0.0.1:{_free_port()}"
        with open(home / LOG, "ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                        "--port", url.rsplit(":", 1)[1]], cwd=home, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # its own session: a signal to the run is not one to it
        record = {"pid": process.pid, "url": url, "log": str(home / LOG), "started": time.time()}
        _write_record(home, record)  # before waiting: an interrupted run leaves a server the next run finds
        if _wait_healthy(record, _startup_seconds(), process):
            return record
        exited = process.poll() is not None  # ran but never answered: another port will not help
        _stop(record)
        (home / RECORD).unlink(missing_ok=True)
        if not exited:
            break
    raise BadInput(f"the local Prefect server did not answer at {url} within {_startup_seconds():.0f} s (log: {home / LOG}); "
                   f"raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, set PREFECT_API_URL to a running server, "
                   f"or set {OPT_OUT}=0 for a temporary server per run")


def stop_server(home: Path) -> str:
    """Stop the local server recorded in `home`; one line saying what was done."""
    from artifacts.localfs import file_lock

    if not (home / RECORD).exists():
        return f"no local Prefect server recorded in {home}"
    with file_lock(home / f"{RECORD}.lock"):
        record = read_record(home)
        if record is None:
            return f"no local Prefect server recorded in {home}"
        stopped = _stop(record)
        (home / RECORD).unlink(missing_ok=True)
    return f"stopped the local Prefect server {record['url']} (pid {record['pid']})" if stopped else \
        f"the local Prefect server {record['url']} (pid {record['pid']}) had already ended; record removed"


def server_status(home: Path) -> str:
    """One line: where the local server is and whether it answers."""
    record = read_record(home)
    if record is None:
        return f"no local Prefect server recorded in {home}; the next `diffeval run` with no PREFECT_API_URL starts one"
    state = "answers" if _healthy(record["url"], 2.0) else "does not answer"
    return f"local Prefect server {record['url']} (pid {record['pid']}, log {record['log']}): {state}"


def read_record(home: Path) -> dict | None:
    try:
        record = json.loads((home / RECORD).read_text())
        return record if {"pid", "url", "log", "started"} <= set(record) else None
    except (OSError, ValueError):
        return None


def _write_record(home: Path, record: dict) -> None:
    temp = home / f".{RECORD}.{os.getpid()}.tmp"
    temp.write_text(json.dumps(record))
    os.replace(temp, home / RECORD)


def _ours(pid: int) -> bool:
    """Whether `pid` is a running `prefect server start` (a recorded pid may have been reused after a reboot)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no /proc to tell: trust the record
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return b"prefect" in argv and b"server" in argv and b"start" in argv


def _stop(record: dict) -> bool:
    """SIGTERM the server's process group, SIGKILL after STOP_SECONDS; False when it was not running."""
    pid = record["pid"]
    if not _ours(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and _ours(pid):
        time.sleep(0.1)
    if _ours(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def _healthy(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=timeout) as reply:
            return reply.status == 200
    except (OSError, ValueError):
        return False


def _wait_healthy(record: dict, seconds: float, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _healthy(record["url"], 2.0):
            return True
        if (process.poll() is not None) if process is not None else not _ours(record["pid"]):
            return False
        time.sleep(0.2)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
