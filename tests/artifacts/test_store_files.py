"""Files and folders a store creates: made on first write only, with the umask's permissions, locked with filelock."""

import os
import stat
import threading
from contextlib import contextmanager

import pytest

from artifacts import tables
from artifacts.errors import BadInput
from artifacts.runfiles import write_run_table
from artifacts.store import Store


@contextmanager
def _umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_files_and_folders_follow_the_umask(tmp_path, mask):
    store = Store(tmp_path / "store")
    with _umask(mask):
        store.write_bytes("images/ab/ab.png", b"png")
        part = tables.append(store, "generations", [{"key": "ab"}])
        report = write_run_table(store, "r1", "metrics", [{"value": 1.0}])
        store.link_or_copy("images/ab/ab.png", "runs/r1/grid/ab.png")
        with store.lock("table-generations"):
            pass
    files = [store.path(rel) for rel in ("images/ab/ab.png", part, report, "runs/r1/grid/ab.png", "locks/table-generations.lock")]
    assert {p.name: _mode(p) for p in files} == {p.name: 0o666 & ~mask for p in files}
    folders = [store.root, store.path("images/ab"), store.path("tables/generations"), store.path("runs/r1/grid"), store.path("locks")]
    assert {str(p): _mode(p) for p in folders} == {str(p): 0o777 & ~mask for p in folders}
    assert [p.name for p in store.path("images/ab").iterdir()] == ["ab.png"]  # no temp file left


def test_the_store_folder_is_made_by_the_first_write_only(tmp_path):
    store = Store(tmp_path / "new" / "store")
    store.check_writable()
    assert store.list("tables/generations") == [] and not store.exists("images/x.png")
    assert tables.read(store, tables.GENERATIONS) is None and tables.latest_by(None, "key") == {}
    tables.compact_all(store)
    assert not (tmp_path / "new").exists()
    tables.append(store, tables.RUNS, [{"run_id": "r"}])
    assert len(store.list("tables/runs", ".parquet")) == 1


def test_a_store_that_cannot_be_made_is_one_line_of_bad_input(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    store = Store(tmp_path / "file" / "store")
    with pytest.raises(BadInput, match=r"file is not a folder; pass --store DIR") as checked:
        store.check_writable()
    with pytest.raises(BadInput, match=r"cannot create .*; pass --store DIR") as written:
        store.write_bytes("images/a.png", b"x")
    assert "\n" not in str(checked.value) + str(written.value)


def test_the_store_lock_excludes_other_holders(tmp_path):
    store, inside, overlaps = Store(tmp_path), [], []

    def hold():
        with store.lock("table-t"):
            inside.append(1)
            overlaps.append(len(inside))
            threading.Event().wait(0.02)
            inside.pop()

    workers = [threading.Thread(target=hold) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert overlaps == [1, 1, 1, 1]
