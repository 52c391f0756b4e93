"""Load on the arena: N raters voting as fast as they can against `diffeval arena` on 127.0.0.1.

    python bench/arena_load.py                    # 50 raters, 30 s, a synthetic run in a temp store
    python bench/arena_load.py --raters 10 --seconds 5

Bounded: only 127.0.0.1, voting stops at the deadline, every request has a timeout, and the server
(a child process) is killed with SIGKILL while raters are still voting: a crash. Then the store is
read back: every acknowledged vote must be there exactly once (lost = 0, duplicated = 0); a vote in
flight at the kill may be stored or not. One in ten votes is also replayed, which must store nothing.
Prints a JSON object; exits 1 when a vote was lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from artifacts import tables  # noqa: E402
from artifacts.store import Store  # noqa: E402
from artifacts.votes import VOTES, read_votes  # noqa: E402
from tasks.arena.synthetic import write_synthetic_run  # noqa: E402

REQUEST_TIMEOUT_S = 10.0
START_TIMEOUT_S = 180.0


def start_server(store: Path) -> tuple[subprocess.Popen, str]:
    """`diffeval arena` on 127.0.0.1, any free port; returns the process and its URL."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "flows.app.cli", "arena", "--store", str(store), "--host", "127.0.0.1", "--port", "0"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line or "")
        if found:
            return proc, found.group(0)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("arena server did not start")


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1, as lean as a client can be: httpx spent more CPU
    per request than the server did, so on a small machine it measured itself."""

    def __init__(self, port: int):
        self.port, self.reader, self.writer = port, None, None

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        return await asyncio.wait_for(self._request(method, path, body), REQUEST_TIMEOUT_S)

    async def _request(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + payload)
        await self.writer.drain()
        headers = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = next(int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:"))
        return int(headers[0].split()[1]), json.loads(await self.reader.readexactly(length))


async def rater(port: int, deadline: float, index: int, log: dict) -> None:
    """Vote until the deadline: a matchup, a vote on it (and now and then the same vote again)."""
    rng, connection = random.Random(index), Connection(port)
    while time.monotonic() < deadline:
        started = time.perf_counter()
        _, matchup = await connection.request("GET", "/api/matchup")
        log["matchup_s"].append(time.perf_counter() - started)
        choice = rng.choices(["best", "tie", "skip"], weights=[8, 1, 1])[0]
        body = {"vote_id": uuid.uuid4().hex, "rater": f"rater-{index}", "runs": matchup["runs"],
                "condition_id": matchup["condition_id"], "seed": matchup["seed"], "sample_index": matchup["sample_index"],
                "shown": matchup["shown"], "choice": choice, "winner": rng.choice(matchup["shown"]) if choice == "best" else None,
                "matchup": matchup["matchup"]}
        log["sent"].add(body["vote_id"])
        started = time.perf_counter()
        status, reply = await connection.request("POST", "/api/vote", body)
        log["vote_s"].append(time.perf_counter() - started)
        if status != 200 or not reply["stored"]:
            log["errors"].append(status)
            continue
        log["acked"].append(body["vote_id"])
        if rng.random() < 0.1:
            status, again = await connection.request("POST", "/api/vote", body)
            log["replays"] += 1
            log["replays_stored"] += int(status != 200 or again["stored"])


async def load(port: int, raters: int, seconds: float, proc: subprocess.Popen) -> dict:
    log = {"matchup_s": [], "vote_s": [], "acked": [], "sent": set(), "errors": [], "replays": 0, "replays_stored": 0}
    deadline = time.monotonic() + seconds
    idle_cpu, own_cpu = cpu_seconds(proc.pid), time.process_time()
    tasks = [asyncio.create_task(rater(port, deadline, i, log)) for i in range(raters)]
    await asyncio.sleep(seconds)
    log["server_cpu_s"], log["client_cpu_s"] = cpu_seconds(proc.pid) - idle_cpu, time.process_time() - own_cpu
    proc.send_signal(signal.SIGKILL)  # a crash while votes are in flight
    await asyncio.gather(*tasks, return_exceptions=True)
    return log


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to tell a slow server from a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles_ms(values: list[float]) -> dict:
    if not values:
        return {}
    p50, p95, p99 = np.percentile(np.array(values) * 1000.0, [50, 95, 99])
    return {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "p99_ms": round(p99, 1), "n": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if not (1 <= args.raters <= 200 and 0 < args.seconds <= 300):
        raise SystemExit("--raters 1..200 and --seconds up to 300: this bench is bounded")
    with tempfile.TemporaryDirectory(prefix="diffeval-arena-load-") as folder:
        store = Store(folder)
        write_synthetic_run(store, ["m1", "m2", "m3", "m4", "m5", "m6"], [0, 1, 2])
        proc, url = start_server(store.root)
        try:
            log = asyncio.run(load(int(url.rsplit(":", 1)[1].strip("/")), args.raters, args.seconds, proc))
        finally:
            proc.kill()
            proc.wait(timeout=30)
        rows = tables.read(store, VOTES)
        stored_rows = rows.num_rows if rows is not None else 0
        stored = {v["vote_id"] for v in read_votes(store)}
        acked = set(log["acked"])
        result = {
            "raters": args.raters, "seconds": args.seconds, "votes_acknowledged": len(acked),
            "votes_per_s": round(len(acked) / args.seconds, 1), "votes_stored": len(stored),
            "lost": len(acked - stored), "duplicated": stored_rows - len(stored),
            "stored_unacknowledged_in_flight_at_kill": len((stored - acked) & log["sent"]), "unknown_stored": len(stored - log["sent"]),
            "replays": log["replays"], "replays_stored_again": log["replays_stored"],
            "errors": {str(code): log["errors"].count(code) for code in set(log["errors"])},
            "vote_latency": percentiles_ms(log["vote_s"]), "matchup_latency": percentiles_ms(log["matchup_s"]),
            "server_cpu_s": round(log.get("server_cpu_s", float("nan")), 2),
            "server_cpu_ms_per_request": round(1000 * log.get("server_cpu_s", float("nan")) / max(1, len(log["vote_s"]) + len(log["matchup_s"]) + log["replays"]), 2),
            "raters_cpu_s": round(log.get("client_cpu_s", float("nan")), 2),
            "load_average_1min_at_end": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
        }
    print(json.dumps(result, indent=2))
    return 1 if result["lost"] or result["duplicated"] or result["unknown_stored"] or result["replays_stored_again"] else 0


if __name__ == "__main__":
    sys.exit(main())
