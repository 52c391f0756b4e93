"""Keys are order-independent; the store writes atomically and catches changed bytes."""

import os

import pyarrow as pa
import pytest

from artifacts import tables
from artifacts.keys import canonical_json, derive_seed, key_of
from artifacts.store import CorruptArtifact, Store


def test_key_ignores_dict_order_but_not_values():
    a = {"steps": 25, "scheduler": {"beta_end": 0.012, "_class_name": "PNDMScheduler"}, "seed": 0}
    b = {"seed": 0, "scheduler": {"_class_name": "PNDMScheduler", "beta_end": 0.012}, "steps": 25}
    assert canonical_json(a) == canonical_json(b)
    assert key_of(a) == key_of(b)
    assert key_of(a) != key_of({**a, "steps": 26})


def test_derive_seed_sample_zero_is_the_seed_and_samples_do_not_collide():
    assert derive_seed(7, 0) == 7
    seeds = {derive_seed(s, i) for s in range(20) for i in range(20)}
    assert len(seeds) == 400
    assert all(0 <= s < 2**63 for s in seeds)


def test_atomic_write_and_verified_read(tmp_path):
    store = Store(tmp_path)
    sha = store.write_bytes("a/b.bin", b"hello")
    assert store.read_bytes("a/b.bin", sha) == b"hello"
    (tmp_path / "a" / "b.bin").write_bytes(b"hellO")
    with pytest.raises(CorruptArtifact):
        store.read_bytes("a/b.bin", sha)
    assert not store.verify("a/b.bin", sha)
    assert [p for p in os.listdir(tmp_path / "a") if p.endswith(".tmp")] == []


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    store = Store(tmp_path)

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.write_bytes("x/y.png", b"data")
    assert list((tmp_path / "x").iterdir()) == []


def test_table_parts_append_read_and_skip_corrupt(tmp_path):
    store = Store(tmp_path)
    first = tables.append(store, "t", [{"key": "a", "v": 1}])
    tables.append(store, "t", [{"key": "b", "v": 2}, {"key": "a", "v": 3}])
    assert tables.latest_by(tables.read(store, "t"), "key")["b"]["v"] == 2
    (tmp_path / first).write_bytes(b"garbage")
    rows = tables.read(store, "t").to_pylist()
    assert sorted(r["key"] for r in rows) == ["a", "b"]
    tables.compact(store, "t")
    assert len(store.list("tables/t", ".parquet")) == 1
    assert tables.read(store, "t").num_rows == 2
    assert tables.append(store, "t", pa.table({"key": pa.array([], pa.string())})) is None


def test_compact_all_merges_busy_tables_only(tmp_path):
    store = Store(tmp_path)
    for i in range(5):
        tables.append(store, "features/x", [{"sha256": str(i)}])
    tables.append(store, "generations", [{"key": "k"}])
    tables.compact_all(store, min_parts=4)
    assert len(store.list("tables/features/x", ".parquet")) == 1
    assert sorted(r["sha256"] for r in tables.read(store, "features/x").to_pylist()) == ["0", "1", "2", "3", "4"]
    assert len(store.list("tables/generations", ".parquet")) == 1


def test_small_tables_are_merged_sooner_than_feature_tables(tmp_path):
    """Every run reads the small tables (generations, runs, history) several times: merged from 4 parts; vectors from 16."""
    store = Store(tmp_path)
    for i in range(4):
        tables.append(store, "features/x", [{"sha256": str(i)}])
        tables.append(store, "runs", [{"run_id": str(i)}])
    tables.compact_all(store)
    assert len(store.list("tables/features/x", ".parquet")) == 4 and len(store.list("tables/runs", ".parquet")) == 1
    assert [r["run_id"] for r in tables.read(store, "runs").to_pylist()] == ["0", "1", "2", "3"]
