"""The arena's votes table: durable, checksummed Parquet parts of votes, each vote id stored once.

A vote is written (`tables.append`: fsync, then rename) before the server answers it, so a crash
loses at most the votes in flight, none that was acknowledged. Readers drop a repeated vote id (two servers on one
store could both take the same replayed id), keeping the earliest.
"""

from __future__ import annotations

import threading

import pyarrow as pa

from artifacts import tables
from artifacts.store import Store

VOTES = "arena-votes"
SCHEMA = pa.schema([
    ("vote_id", pa.string()), ("rater", pa.string()), ("runs", pa.list_(pa.string())),
    ("condition_id", pa.string()), ("groups", pa.list_(pa.string())), ("seed", pa.int64()),
    ("sample_index", pa.int64()), ("shown", pa.list_(pa.string())), ("models", pa.list_(pa.string())),
    ("choice", pa.string()), ("winner", pa.string()), ("winner_model", pa.string()), ("created", pa.float64()),
])
COLUMNS = tuple(SCHEMA.names)


def read_votes(store: Store) -> list[dict]:
    """Every stored vote, oldest first, each vote id once."""
    table = tables.read(store, VOTES)
    if table is None:
        return []
    seen: dict[str, dict] = {}
    for row in sorted(table.to_pylist(), key=lambda r: (r["created"], r["vote_id"])):
        seen.setdefault(row["vote_id"], row)
    return list(seen.values())


class DuplicateVote(Exception):
    """A vote id already stored with a different body."""


class VoteLog:
    """The votes of one store, kept in memory for the leaderboard and appended durably as they come.

    Group commit: a vote waits in `pending` while one writer at a time appends every pending vote as
    one part (one fsync for all of them) and only then are they answered, so concurrent raters share
    the cost of a durable write instead of queueing behind one fsync each.
    """

    def __init__(self, store: Store):
        self.store = store
        # Many parts make every later read slow; merge them once before serving (under the store lock).
        tables.compact(store, VOTES, min_parts=2)
        self._votes = read_votes(store)
        self._by_id = {v["vote_id"]: v for v in self._votes}
        self._pending: dict[str, dict] = {}
        self._lock, self._write_lock = threading.Lock(), threading.Lock()

    def add(self, vote: dict) -> bool:
        """Store `vote` durably unless its id is stored already; True when stored now, False for a replay.

        A replay must repeat the stored vote (its time aside); another body under the same id raises
        DuplicateVote and stores nothing. Returns only once the vote is on disk.
        """
        row = {c: vote.get(c) for c in COLUMNS}
        with self._lock:
            known = self._by_id.get(row["vote_id"]) or self._pending.get(row["vote_id"])
            if known is not None and {k: v for k, v in known.items() if k != "created"} != {k: v for k, v in row.items() if k != "created"}:
                raise DuplicateVote(row["vote_id"])
            if known is None:
                self._pending[row["vote_id"]] = row
        with self._write_lock:
            with self._lock:
                if row["vote_id"] in self._by_id:  # written by the writer before us, with its batch
                    return known is None
                batch, self._pending = list(self._pending.values()), {}
            try:
                tables.append(self.store, VOTES, batch, schema=SCHEMA)
            except BaseException:
                with self._lock:  # back in the queue: the next writer tries again
                    self._pending = {**{r["vote_id"]: r for r in batch}, **self._pending}
                raise
            with self._lock:
                self._votes.extend(batch)
                self._by_id.update((r["vote_id"], r) for r in batch)
        return known is None

    def votes(self) -> list[dict]:
        with self._lock:
            return list(self._votes)

    def __len__(self) -> int:
        return len(self._votes)
