"""Warm re-run as a whole process: `diffeval run` on a finished spec against `python -c "import prefect, torch"`.

A user who changes one metric setting re-runs a spec whose images and features are all cached; what
they wait for is the process: interpreter, imports, Prefect, planning. This times, each as its own
process and interleaved so load noise hits all alike:

- `python -c "import prefect, torch"`, the floor any run of the tool pays;
- `diffeval run SPEC --json` with a running Prefect server (`prefect server start`, which this script
  starts and stops itself, and `PREFECT_API_URL`);
- the same with no `PREFECT_API_URL`, reusing the local server an earlier run started (flows/local_server.py);
- the same with no server at all: the run starts the local server itself (stopped before each such run), and
  with `DIFFEVAL_LOCAL_SERVER=0`, Prefect's temporary server, started and stopped by every run;
- optionally the same warm run from other checkouts of this repository (`--compare NAME=DIR`, e.g. the
  commit before a change), against the same store and the same running server.

Each warm run must report 0 images generated and 0 features extracted. Goal: a warm run without a
configured server (the reused local server) <= 2x the import floor. Bounded: every process has a time limit
(`--limit`), and both servers are stopped at the end, whatever happens.

    .venv/bin/python bench/warm.py --repeats 3
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, bench_parser, print_table, tiny_spec, write_spec  # noqa: E402

GOAL_RATIO = 2.0
FLOOR = "import prefect, torch"
RUNNING = "warm run, running server (PREFECT_API_URL)"
REUSED = "warm run, no PREFECT_API_URL: the local server, reused"


def parse_args(argv: list[str] | None):
    parser = bench_parser(__doc__.splitlines()[0], repeats=5)
    parser.add_argument("--limit", type=float, default=600.0, help="seconds any one process may take (default 600)")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                        help="also time the warm run from the checkout in DIR (repeatable), e.g. before=/tmp/base")
    args = parser.parse_args(argv)
    try:
        args.compare = dict(item.split("=", 1) for item in args.compare)
    except ValueError:
        parser.error("--compare takes NAME=DIR")
    return args


def base_env(home: Path, threads: int | None) -> dict[str, str]:
    """The environment of every timed process: a private Prefect home, offline hub, the CLI's settings."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_TO_API_ENABLED="false",
               HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO),
               # Prefect's default (20 s) is too short for the temporary server on a busy machine.
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_process(argv: list[str], env: dict, cwd: Path, limit: float, label: str) -> tuple[float, str]:
    """Wall seconds of one process (start to exit) and its stdout; stop the bench if it fails.

    Its own process group, so that on a time-out or Ctrl-C whatever it started (a temporary Prefect
    server) is killed with it.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit)
    except BaseException as exc:
        kill_group(proc, grace=0)
        if isinstance(exc, subprocess.TimeoutExpired):
            sys.exit(f"warm: {label} took longer than {limit:.0f} s (--limit)")
        raise
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"warm: {label} exited with {proc.returncode}: {err.strip()[-1500:]}")
    return seconds, out


def diffeval_run(checkout: Path, spec: str, store: Path, env: dict, limit: float, label: str, generated: int | None = 0) -> float:
    """Seconds of one `diffeval run --json` process from `checkout`; check what it generated and extracted."""
    env = {**env, "PYTHONPATH": str(checkout)}
    argv = [sys.executable, "-m", "flows.app.cli", "run", spec, "--store", str(store), "--json"]
    seconds, out = run_process(argv, env, checkout, limit, label)
    counts = json.loads(out)["counts"]
    if generated is not None and (counts["images_generated"] != generated or counts["features_extracted"] != 0):
        sys.exit(f"warm: {label} was not a warm run: {counts}")
    return seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict, limit: float) -> tuple[subprocess.Popen, str]:
    """`prefect server start` in its own process group; return it and its API URL once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if server.poll() is not None:
                sys.exit(f"warm: `prefect server start` exited with {server.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return server, url
            except OSError:
                time.sleep(0.5)
        sys.exit(f"warm: `prefect server start` did not answer within {limit:.0f} s (--limit)")
    except BaseException:  # its own session: Ctrl-C does not reach it
        kill_group(server)
        raise


def kill_group(proc: subprocess.Popen, grace: float = 20) -> None:
    """Stop the process group of `proc`: SIGTERM, then SIGKILL after `grace` seconds (`grace=0`: SIGKILL at once)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM if grace else signal.SIGKILL)
        proc.wait(timeout=grace or None)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def timed_sides(args, spec: str, store: Path, env: dict, url: str) -> dict[str, list[float]]:
    """Every side once per repeat, in a rotating order."""
    with_server = {**env, "PREFECT_API_URL": url}
    local = {**env, "PREFECT_HOME": env["DIFFEVAL_BENCH_LOCAL_HOME"]}  # the local server's own home (and database)

    def first_run() -> float:
        run_process([sys.executable, "-m", "flows.app.cli", "server", "stop"], local, REPO, args.limit, "server stop")
        return diffeval_run(REPO, spec, store, local, args.limit, "warm run (starts the local server)")

    sides = {
        f'python -c "{FLOOR}"': lambda: run_process([sys.executable, "-c", FLOOR], env, REPO, args.limit, "import floor")[0],
        RUNNING: lambda: diffeval_run(REPO, spec, store, with_server, args.limit, "warm run (server)"),
        REUSED: lambda: diffeval_run(REPO, spec, store, local, args.limit, "warm run (local server)"),
        "warm run, no server: the run starts the local server": first_run,
        "warm run, no server, DIFFEVAL_LOCAL_SERVER=0: a temporary server per run":
            lambda: diffeval_run(REPO, spec, store, {**env, "DIFFEVAL_LOCAL_SERVER": "0"}, args.limit, "warm run (temporary server)"),
    }
    for name, checkout in args.compare.items():
        sides[f"warm run, running server, {name}"] = (
            lambda c=Path(checkout).resolve(), n=name: diffeval_run(c, spec, store, with_server, args.limit, f"warm run ({n})"))
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for repeat in range(args.repeats):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            seconds[name].append(sides[name]())
    return seconds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.store or tempfile.mkdtemp(prefix="warm-bench-")).resolve()
    env = base_env(Path(tempfile.mkdtemp(prefix="warm-prefect-")), args.threads)
    env["DIFFEVAL_BENCH_LOCAL_HOME"] = tempfile.mkdtemp(prefix="warm-local-prefect-")
    from tasks.demo.tiny import build_tiny_models

    models = build_tiny_models(Path(args.models).resolve() if args.models else root / "models")
    spec = write_spec(root / "specs", tiny_spec("bench-warm", models, ["sd-a"], [0, 1], 24))
    store = Path(tempfile.mkdtemp(prefix="store-", dir=root))
    local = {**env, "PREFECT_HOME": env["DIFFEVAL_BENCH_LOCAL_HOME"]}
    try:
        cold = diffeval_run(REPO, spec, store, local, args.limit, "cold run (starts the local server)", generated=None)
        started = time.perf_counter()
        server, url = start_server(env, args.limit)
        server_start = time.perf_counter() - started
        try:
            seconds = timed_sides(args, spec, store, env, url)
        finally:
            kill_group(server)  # uvicorn and its workers
    finally:
        subprocess.run([sys.executable, "-m", "flows.app.cli", "server", "stop"], env=local, cwd=REPO, capture_output=True)
    floor = statistics.median(seconds[f'python -c "{FLOOR}"'])
    rows = [("machine", f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"),
            ("cold run (48 images: 24 built-in prompts x 2 seeds, tiny SD, CLIP score)", f"{cold:.1f} s"),
            ("`prefect server start` until /api/health answers (once, excluded)", f"{server_start:.1f} s")]
    for name, values in seconds.items():
        median = statistics.median(values)
        rows.append((f"{name}, median of {len(values)}",
                     f"{median:.2f} s = {median / floor:.2f}x floor  ({', '.join(f'{s:.2f}' for s in values)})"))
    ratio = statistics.median(seconds[REUSED]) / floor
    rows.append(("goal: warm run without a configured server (local server reused) <= 2x floor",
                 f"{ratio:.2f}x: {'met' if ratio <= GOAL_RATIO else 'MISSED'}"))
    print_table("warm: whole-process warm re-run of `diffeval run` (0 generated, 0 extracted)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
