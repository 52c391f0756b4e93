"""The claim loop around batches of work: lease a batch, do it, skip batches others hold, come back for them.

Every worker of every run goes through the same planned batches (in its own random rotation, so
they seldom meet). A batch is leased whole or skipped, so batches keep the composition the plan gave
them, and images and features do not depend on which worker made them. A skipped batch is revisited
until its keys show up as done in their table, or its lease lapses and this worker takes it over.

It lives beside the leases, under every layer of tasks/: generation (tasks/generation/generate.py)
and feature extraction (artifacts/features.py) both run their batches through it.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from typing import Callable, Iterable, TypeVar

from artifacts import tables
from artifacts.errors import BadInput
from artifacts.leases import DEFAULT_SECONDS, Leases
from artifacts.store import Store, image_rel

T = TypeVar("T")
LEASE_SECONDS_ENV = "DIFFEVAL_LEASE_SECONDS"
FIRST_WAIT, LAST_WAIT = 0.5, 5.0  # seconds between looks at batches other workers hold


def lease_seconds() -> float:
    """How long a lease lasts unrenewed: $DIFFEVAL_LEASE_SECONDS, else 120 s."""
    value = os.environ.get(LEASE_SECONDS_ENV, "")
    if not value:
        return DEFAULT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise BadInput(f"${LEASE_SECONDS_ENV}={value!r}: not a positive number of seconds; unset it or set e.g. 120")
    return seconds


class DoneWatch:
    """Which keys a table has rows for, reading each of its parts once however often it is asked."""

    def __init__(self, store: Store, table: str, column: str, check: Callable[[dict], bool] | None = None,
                 extra_columns: tuple[str, ...] = ()):
        self.store, self.table, self.column, self.check = store, table, column, check
        self.columns = [column, *extra_columns]
        self._parts: set[str] = set()
        self._latest: dict[str, dict] = {}
        self._done: set[str] = set()

    def done(self, keys: Iterable[str]) -> set[str]:
        """Those of `keys` with a row (whose `check` passes: e.g. the image still matches its checksum)."""
        wanted = set(keys)
        new = tables.read_new(self.store, self.table, self._parts, self.columns)
        if new is not None:
            for row in tables.in_write_order(new).to_pylist():
                self._latest[row[self.column]] = row
                self._done.discard(row[self.column])  # a newer row: check it again
        for key in wanted - self._done:
            row = self._latest.get(key)
            if row is not None and (self.check is None or self.check(row)):
                self._done.add(key)
        return wanted & self._done


def generation_watch(store: Store) -> DoneWatch:
    """Done = a generation row whose PNG is in the store with that row's checksum (a stale row is not done)."""
    return DoneWatch(store, tables.GENERATIONS, "key", lambda row: store.verify(image_rel(row["key"]), row["sha256"]), ("sha256",))


def work_claimed(store: Store, scope: str, batches: list[list[T]], work: Callable[[list[T]], None],
                 done: Callable[[set[str]], set[str]], key: Callable[[T], str] = lambda item: item.key) -> int:
    """Run `work` on each batch this worker leases (a taken-over batch less what its last holder finished);
    return how many items it worked on. A batch whose work fails is given back for another worker."""
    leases = Leases(store, scope, lease_seconds())
    start = random.randrange(len(batches)) if batches else 0
    pending, worked, wait = batches[start:] + batches[:start], 0, FIRST_WAIT
    while pending:
        busy = []
        for batch in pending:
            keys = [key(item) for item in batch]
            if not leases.claim(keys):
                busy.append(batch)
                continue
            previous = leases.taken_over.intersection(keys)
            finished = done(previous) if previous else set()
            todo = [item for item in batch if key(item) not in finished]
            try:
                if todo:
                    with leases.heartbeat():
                        work(todo)
            except BaseException:
                with contextlib.suppress(Exception):  # the store may be what failed
                    leases.release(keys)
                raise
            leases.finish(keys)
            worked += len(todo)
        if not busy:
            break
        finished = done({key(item) for batch in busy for item in batch})
        pending = [left for batch in busy if (left := [item for item in batch if key(item) not in finished])]
        wait = FIRST_WAIT if finished else min(wait * 1.5, LAST_WAIT)
        if pending:
            time.sleep(wait)
    return worked
