"""Clean exits under load: N calls of a store-only command beside a busy process, counting non-zero exits.

`diffeval inspect images --json` used to print its whole JSON and then abort (`terminate called without an
active exception`, exit 134) a few times in a hundred on a loaded machine: an Arrow thread-pool worker of a
threaded Parquet read, still releasing the Python bytes it read while the interpreter finalised. This loop is
the check that it is gone: every call must exit 0 with one JSON object on stdout.

    .venv/bin/python bench/clean_exit.py --store .diffeval --calls 200
    .venv/bin/python bench/clean_exit.py --store .diffeval --calls 60 --checkout /tmp/before   # another checkout

Without --store it runs `diffeval demo` into a temp store first. One busy process (a Python spin loop) runs
beside the calls the whole time; it is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="a store with at least one run (default: `diffeval demo` into a temp dir)")
    parser.add_argument("--calls", type=int, default=200, help="calls (default 200)")
    parser.add_argument("--command", default="inspect images --json", help='the diffeval arguments (default "inspect images --json")')
    parser.add_argument("--checkout", default=str(REPO), help="the checkout whose code runs (default: this one)")
    parser.add_argument("--busy", type=int, default=1, help="busy processes beside the calls (default 1)")
    return parser.parse_args(argv)


def demo_store(env: dict) -> str:
    store = tempfile.mkdtemp(prefix="clean-exit-store-")
    subprocess.run([sys.executable, "-m", "flows.app.cli", "demo", "--store", store], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return store


def one_call(argv: list[str], env: dict, cwd: str) -> tuple[int, float, str]:
    """(exit status, seconds, the last line of stderr when it failed) of one call."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.app.cli", *argv], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode == 0:
        json.loads(done.stdout) if "--json" in argv else None  # a complete object, or this raises
        return 0, seconds, ""
    return done.returncode, seconds, (done.stderr.strip().splitlines() or [""])[-1][:200]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = {**os.environ, "PYTHONPATH": args.checkout, "HF_HUB_OFFLINE": "1"}
    env.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="clean-exit-prefect-"))
    store = args.store or demo_store(env)
    command = [*args.command.split(), "--store", store]
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    codes: collections.Counter = collections.Counter()
    failures, seconds = [], []
    try:
        for i in range(args.calls):
            code, took, last = one_call(command, env, args.checkout)
            codes[code] += 1
            seconds.append(took)
            if code:
                failures.append(f"call {i + 1}: exit {code}: {last}")
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    seconds.sort()
    print(f"clean_exit: `diffeval {args.command}` x {args.calls} from {args.checkout}, beside {args.busy} busy process(es), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"exit statuses: {dict(sorted(codes.items()))}; non-zero: {args.calls - codes[0]}")
    print(f"seconds per call: median {seconds[len(seconds) // 2]:.2f}, max {seconds[-1]:.2f}")
    print("\n".join(failures[:20]))
    return 0 if codes[0] == args.calls else 1


if __name__ == "__main__":
    sys.exit(main())
