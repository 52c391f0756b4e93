"""Leases and the claim loop: a key is worked on by one worker at a time, a lapsed lease is taken over once."""

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import pytest

from artifacts import leases as leases_module
from artifacts.leases import Leases, lease_rel, store_lock
from artifacts.store import Store
from artifacts import claims


@pytest.fixture(params=["folder", "s3"])
def shared(request, tmp_path) -> Store:
    """One store that several workers share: a folder, or a bucket on the local S3 server."""
    return Store(tmp_path / "store") if request.param == "folder" else Store(request.getfixturevalue("s3_store"))


def _foreign_lease(store: Store, key: str, epoch: int = 0, expires_in: float = 60.0, host: str = "other-host/1234", pid: int = 1) -> None:
    """A lease as a worker on another machine (or a process on this one) would have left it."""
    store.write_bytes(lease_rel("generate", key, epoch), json.dumps(
        {"owner": f"{host}:{pid}:x", "host": host, "pid": pid, "start": "", "expires": time.time() + expires_in}).encode())


def test_a_batch_is_leased_whole_or_not_at_all(shared):
    a, b, c = (Leases(shared, "generate") for _ in range(3))
    assert a.claim(["k1", "k2"])
    assert not b.claim(["k0", "k2"])  # k2 is a's: b gives k0 back
    assert c.claim(["k0"]) and a.claim(["k1"])  # k0 was free again; a still holds k1
    assert not b.claim(["k1"]) and not b.taken_over


def test_a_lapsed_lease_is_taken_over_by_exactly_one_claimer(shared):
    _foreign_lease(shared, "live")
    _foreign_lease(shared, "expired", expires_in=-1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _foreign_lease(shared, "dead-here", host=leases_module.HOST, pid=int(dead.stdout))  # unexpired, but its process ended
    assert not Leases(shared, "generate").claim(["live"])
    winners = []

    def claim(worker: Leases) -> None:
        if worker.claim(["expired", "dead-here"]):
            winners.append(worker)

    workers = [Leases(shared, "generate") for _ in range(4)]
    threads = [threading.Thread(target=claim, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (winner,) = winners
    assert winner.taken_over == {"expired", "dead-here"} and winner.held == {"expired": 1, "dead-here": 1}


def test_concurrent_workers_never_share_a_key(shared):
    keys = [uuid.uuid4().hex for _ in range(48 if shared.is_local else 24)]
    batches = [keys[i : i + 4] for i in range(0, len(keys), 4)]
    worked: list[str] = []
    done_keys: set[str] = set()
    lock = threading.Lock()

    def work(batch):
        with lock:
            worked.extend(batch)
            done_keys.update(batch)

    def done(asked):
        with lock:
            return asked & done_keys

    threads = [threading.Thread(target=claims.work_claimed, args=(shared, "generate", batches, work, done, str)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(worked) == Counter(keys)  # every key once, whoever did it


def test_a_taken_over_batch_skips_what_its_dead_holder_finished(tmp_path):
    store = Store(tmp_path)
    for key in ("a", "b"):
        _foreign_lease(store, key, expires_in=-1)  # the holder died after finishing "a" only
    worked = []
    made = claims.work_claimed(store, "generate", [["a", "b"]], worked.extend, lambda asked: asked & {"a"}, str)
    assert made == 1 and worked == ["b"]


def test_finished_keys_are_marked_done_and_checked_again_when_planned_again(tmp_path):
    """A later run (even in the same process) that finds a key missing, its image lost, takes it over and redoes it."""
    store, worked = Store(tmp_path), []
    assert claims.work_claimed(store, "generate", [["k"]], worked.extend, lambda asked: set(), str) == 1
    assert json.loads(store.read_bytes(lease_rel("generate", "k", 0)))["done"]
    assert claims.work_claimed(store, "generate", [["k"]], worked.extend, lambda asked: set(), str) == 1
    assert claims.work_claimed(store, "generate", [["k"]], worked.extend, lambda asked: asked, str) == 0  # now it is done
    assert worked == ["k", "k"] and store.list("leases/generate/k") == ["leases/generate/k/k.0", "leases/generate/k/k.1", "leases/generate/k/k.2"]


def test_a_failed_batch_is_given_back(tmp_path):
    store = Store(tmp_path)

    def fail(batch):
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        claims.work_claimed(store, "generate", [["k"]], fail, lambda asked: set(), str)
    assert Leases(store, "generate").claim(["k"])  # free at once, not after the lease time


def test_the_heartbeat_renews_and_a_renewed_lease_stays_held(tmp_path):
    store = Store(tmp_path)
    holder = Leases(store, "generate", seconds=0.6)
    assert holder.claim(["k"])
    first = json.loads(store.read_bytes(lease_rel("generate", "k", 0)))["expires"]
    with holder.heartbeat():
        deadline = time.monotonic() + 60
        while json.loads(store.read_bytes(lease_rel("generate", "k", 0)))["expires"] == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert json.loads(store.read_bytes(lease_rel("generate", "k", 0)))["expires"] > first
        assert not Leases(store, "generate", seconds=0.6).claim(["k"])


def test_lease_seconds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(claims.LEASE_SECONDS_ENV, "7.5")
    assert claims.lease_seconds() == 7.5
    monkeypatch.setenv(claims.LEASE_SECONDS_ENV, "soon")
    with pytest.raises(ValueError, match=r"DIFFEVAL_LEASE_SECONDS='soon': not a positive number of seconds; unset it"):
        claims.lease_seconds()


def test_an_object_store_lock_excludes_other_holders():
    store, inside, overlaps = Store(f"memory://locks-{uuid.uuid4().hex[:8]}"), [], []

    def hold():
        with store_lock(store, "table-t", poll=0.01):
            inside.append(1)
            overlaps.append(len(inside))
            threading.Event().wait(0.02)
            inside.pop()

    workers = [threading.Thread(target=hold) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert overlaps == [1, 1, 1, 1] and store.walk("leases") == []


def test_the_done_watch_reads_each_table_part_once(tmp_path, monkeypatch):
    from artifacts import tables

    store = Store(tmp_path)
    watch = claims.DoneWatch(store, "features/x", "sha256")
    tables.append(store, "features/x", [{"sha256": "a"}])
    assert watch.done({"a", "b"}) == {"a"}
    read = []
    monkeypatch.setattr(store, "read_many", lambda rels, real=store.read_many: read.extend(rels) or real(rels))
    tables.append(store, "features/x", [{"sha256": "b"}])
    assert watch.done({"a", "b"}) == {"a", "b"} and len(read) == 1
