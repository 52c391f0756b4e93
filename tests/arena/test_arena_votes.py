"""The votes table under concurrent writers: every vote once, replays stored once, a failed write retried."""

import threading

import pytest

from artifacts import tables
from artifacts.store import Store
from artifacts.votes import VOTES, DuplicateVote, VoteLog, read_votes


def _vote(i: int, choice: str = "best") -> dict:
    return {"vote_id": f"vote-{i:05d}", "rater": "r", "runs": ["run"], "condition_id": "c", "groups": ["category:A"], "seed": 0,
            "sample_index": 0, "shown": ["k1", "k2"], "models": ["a", "b"], "choice": choice,
            "winner": "k1" if choice == "best" else None, "winner_model": "a" if choice == "best" else None, "created": float(i)}


def test_concurrent_votes_and_replays_are_each_stored_once(tmp_path):
    log = VoteLog(Store(tmp_path))
    answers, lock = [], threading.Lock()

    def rater(first: int) -> None:
        for i in range(first, first + 25):
            for _ in range(2):  # every vote posted twice, as a page retrying
                stored = log.add(_vote(i))
                with lock:
                    answers.append((i, stored))

    threads = [threading.Thread(target=rater, args=(25 * t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i for i, stored in answers if stored) == list(range(200))  # exactly one "stored" per vote
    raw = tables.read(Store(tmp_path), VOTES)
    assert raw.num_rows == 200 and len(read_votes(Store(tmp_path))) == 200 and len(log) == 200
    assert len(VoteLog(Store(tmp_path))) == 200  # a restart (parts compacted) sees them all


def test_another_body_under_a_stored_id_is_refused(tmp_path):
    log = VoteLog(Store(tmp_path))
    assert log.add(_vote(1)) is True and log.add({**_vote(1), "created": 99.0}) is False
    with pytest.raises(DuplicateVote):
        log.add(_vote(1, "tie"))
    assert [v["choice"] for v in read_votes(Store(tmp_path))] == ["best"]


def test_a_failed_write_is_not_acknowledged_and_the_next_writer_stores_it(tmp_path, monkeypatch):
    log = VoteLog(Store(tmp_path))
    real = tables.append
    monkeypatch.setattr(tables, "append", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        log.add(_vote(1))
    monkeypatch.setattr(tables, "append", real)
    assert read_votes(Store(tmp_path)) == []
    assert log.add(_vote(2)) is True
    assert [v["vote_id"] for v in read_votes(Store(tmp_path))] == ["vote-00001", "vote-00002"]
