"""Leases: which worker works on a key, until when, so that concurrent runs never do a key twice.

A lease is a small JSON object `leases/<scope>/<key[:2]>/<key>.<n>` (owner, host, pid, expiry),
made with the store's one conditional write (create-if-absent: `O_EXCL`-style link in a folder,
`If-None-Match: *` on S3). Epoch `n` starts at 0; a lease that has lapsed (expired, its process gone
on this host, or marked done by its holder) is taken over by creating epoch n+1, which only one
claimer can do. Leases are kept, marked done, after the work: creating epoch 0 then proves that
nobody ever worked on the key, and a takeover tells the claimer to check whether the last holder
finished (a key done once may have lost its image since, so "done" is checked, not trusted).

The holder renews its leases (rewrites its own epoch with a later expiry) every third of their life
while it works, so the lease time bounds how long a dead worker on another machine blocks its
keys, not how long a batch may take. Clocks of machines sharing a store should agree to well
within the lease time.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

log = logging.getLogger("diffeval")

DEFAULT_SECONDS = 120.0


def lease_rel(scope: str, key: str, epoch: int) -> str:
    return f"leases/{scope}/{key[:2]}/{key}.{epoch}"


def _process_start(pid: int) -> str:
    """A token that changes when `pid` is reused (its start time in clock ticks); '' where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _this_host() -> str:
    """The host name plus its boot id: two machines (or two boots) never look like one."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return f"{socket.gethostname()}/{handle.read().strip()[:8]}"
    except OSError:
        return socket.gethostname()


HOST = _this_host()


def process_alive(pid: int, start: str) -> bool:
    """Whether the process that wrote a lease on this host still runs (same pid, same start time)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return not start or _process_start(pid) == start


class Leases:
    """The leases one worker holds in one scope (e.g. 'generate' or 'features/<extractor>')."""

    def __init__(self, store, scope: str, seconds: float = DEFAULT_SECONDS):
        self.store, self.scope, self.seconds = store, scope, float(seconds)
        self.owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held: dict[str, int] = {}
        self.taken_over: set[str] = set()  # keys someone held before us: they may have finished them
        self._guard = threading.Lock()

    def _payload(self, done: bool = False) -> bytes:
        return json.dumps({"owner": self.owner, "host": HOST, "pid": os.getpid(), "start": _process_start(os.getpid()),
                           "expires": time.time() + self.seconds, "done": done}).encode()

    def lapsed(self, lease: dict) -> bool:
        """Done, expired, or written by a process of this host that has ended."""
        if lease.get("done") or lease.get("expires", 0) <= time.time():
            return True
        return lease.get("host") == HOST and not process_alive(int(lease.get("pid", -1)), lease.get("start", ""))

    def _claim_one(self, key: str) -> bool:
        epoch = 0
        while True:
            rel = lease_rel(self.scope, key, epoch)
            if self.store.create_bytes(rel, self._payload()):
                with self._guard:
                    self.held[key] = epoch
                if epoch:
                    self.taken_over.add(key)
                return True
            try:
                lease = json.loads(self.store.read_bytes(rel))
            except FileNotFoundError:
                continue  # released between our create and our read: try the same epoch again
            except ValueError:
                lease = {}  # unreadable: treat as lapsed, the next epoch settles it
            if lease.get("owner") == self.owner:
                return True
            if not self.lapsed(lease):
                return False
            epoch += 1

    def claim(self, keys: list[str]) -> bool:
        """Lease all of `keys` or none: if another live worker holds one, give back the rest and say no.

        The first key is claimed alone: workers going through the same batches meet there, and the
        loser stops before touching the others. The rest go concurrently on an object store.
        """
        wanted = [key for key in keys if key not in self.held]
        if not wanted:
            return True
        if not self._claim_one(wanted[0]):
            return False
        won = [True, *self._each(self._claim_one, wanted[1:])]
        if all(won):
            return True
        self.release([key for key, ok in zip(wanted, won) if ok])
        return False

    def release(self, keys: list[str]) -> None:
        """Give leases back early (the keys were not worked on): the next claimer gets them at once."""
        self._each(self._release_one, keys)

    def _release_one(self, key: str) -> None:
        with self._guard:
            epoch = self.held.pop(key, None)
        if epoch is not None and not self.store.exists(lease_rel(self.scope, key, epoch + 1)):
            self.store.remove(lease_rel(self.scope, key, epoch))
        self.taken_over.discard(key)

    def _each(self, action, keys: list[str]) -> list:
        """`action` on every key: in turn on a folder, concurrently on an object store (each call a round trip)."""
        if self.store.is_local or len(keys) < 2:
            return [action(key) for key in keys]
        return list(_requests().map(action, keys))

    def renew(self) -> None:
        """Push the expiry of every held lease one lease time ahead; warn if one was taken over meanwhile."""
        with self._guard:
            held = dict(self.held)
        self._each(lambda key: self._renew_one(key, held[key]), list(held))

    def _renew_one(self, key: str, epoch: int) -> None:
        self.store.write_bytes(lease_rel(self.scope, key, epoch), self._payload(), durable=False)
        if self.store.exists(lease_rel(self.scope, key, epoch + 1)):
            log.warning("lease on %s lapsed while this worker held it (stalled longer than %.0f s); "
                        "another worker may redo it", key[:12], self.seconds)

    def finish(self, keys: list[str]) -> None:
        """Mark the leases of finished keys done: kept in the store, free for whoever finds the key missing later."""
        self._each(self._finish_one, keys)
        self.taken_over.difference_update(keys)

    def _finish_one(self, key: str) -> None:
        with self._guard:
            epoch = self.held.pop(key, None)
        if epoch is not None:
            self.store.write_bytes(lease_rel(self.scope, key, epoch), self._payload(done=True), durable=False)

    @contextlib.contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Renew the held leases every third of their life while the body runs."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.seconds / 3):
                try:
                    self.renew()
                except Exception as exc:  # noqa: BLE001 - the work goes on; the lease just risks lapsing
                    log.warning("could not renew leases (%s); they lapse in %.0f s", exc, self.seconds)

        thread = threading.Thread(target=beat, name="diffeval-lease-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


@functools.cache
def _requests() -> ThreadPoolExecutor:
    """One pool per process for concurrent lease requests to an object store."""
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="diffeval-lease")


@contextlib.contextmanager
def store_lock(store, name: str, seconds: float = 60.0, poll: float = 0.2) -> Iterator[None]:
    """An exclusive lock as a lease (for stores without file locks): wait for it, hold it, give it back."""
    leases = Leases(store, "locks", seconds)
    while not leases.claim([name]):
        time.sleep(poll)
    try:
        with leases.heartbeat():
            yield
    finally:
        leases.release([name])
