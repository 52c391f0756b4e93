"""The arena's votes table: one durable, checksummed Parquet part per vote, each vote id stored once.

Each vote is its own part (`tables.append`, fsync before rename) written before the server answers,
so a crash loses at most the vote in flight. Readers drop a repeated vote id (two servers on one
store could both take the same replayed id), keeping the earliest.
"""

from __future__ import annotations

import threading

import pyarrow as pa

from artifacts import tables
from artifacts.store import Store

VOTES = "arena-votes"
CHOICES = ("best", "tie", "skip")
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
    """The votes of one store, kept in memory for the leaderboard and appended durably one by one."""

    def __init__(self, store: Store):
        self.store = store
        # Many parts make every later read slow; merge them once before serving (under the store lock).
        tables.compact(store, VOTES, min_parts=2)
        self._votes = read_votes(store)
        self._by_id = {v["vote_id"]: v for v in self._votes}
        self._lock = threading.Lock()

    def add(self, vote: dict) -> bool:
        """Store `vote` unless its id is stored already; True when stored now, False for a replay.

        A replay must repeat the stored vote (its time aside); another body under the same id raises
        DuplicateVote and stores nothing.
        """
        with self._lock:
            old = self._by_id.get(vote["vote_id"])
            if old is not None:
                if {k: v for k, v in old.items() if k != "created"} != {k: vote.get(k) for k in old if k != "created"}:
                    raise DuplicateVote(vote["vote_id"])
                return False
            row = {c: vote.get(c) for c in COLUMNS}
            tables.append(self.store, VOTES, [row], schema=SCHEMA)
            self._votes.append(row)
            self._by_id[row["vote_id"]] = row
            return True

    def votes(self) -> list[dict]:
        with self._lock:
            return list(self._votes)

    def __len__(self) -> int:
        return len(self._votes)
