"""A store on an fsspec URL (memory://, and s3:// on a local moto server) behaves as a folder store does."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from artifacts import tables
from artifacts.errors import BadInput, StoreUnreachable
from artifacts.runfiles import read_run_table, write_run_table
from artifacts.store import CorruptArtifact, Store, resolve_store_root

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["folder", "memory", "s3"])
def any_store(request, tmp_path) -> Store:
    if request.param == "folder":
        return Store(tmp_path / "store")
    if request.param == "memory":
        return Store(f"memory://diffeval-{uuid.uuid4().hex[:8]}/store")
    return Store(request.getfixturevalue("s3_store"))


def test_the_same_operations_on_every_backend(any_store):
    store = any_store
    store.check_writable()
    sha = store.write_bytes("images/ab/abc.png", b"png bytes", durable=False)
    assert store.exists("images/ab/abc.png") and not store.exists("images/ab/abd.png")
    assert store.read_bytes("images/ab/abc.png", sha) == b"png bytes"
    assert store.list("images/ab") == ["images/ab/abc.png"] and store.list("images/zz") == []
    assert store.create_bytes("leases/x.0", b"first") and not store.create_bytes("leases/x.0", b"second")
    assert store.read_bytes("leases/x.0") == b"first"
    assert store.read_many(["images/ab/abc.png", "images/ab/gone.png"]) == {"images/ab/abc.png": b"png bytes", "images/ab/gone.png": None}
    store.link_or_copy("images/ab/abc.png", "runs/r1/images/abc.png")
    assert store.read_bytes("runs/r1/images/abc.png", sha) == b"png bytes"
    assert store.walk("runs") == ["runs/r1/images/abc.png"]
    write_run_table(store, "r1", "metrics", [{"metric": "clip_score", "value": 1.5}])
    assert read_run_table(store, "r1", "metrics") == [{"metric": "clip_score", "value": 1.5}]
    store.remove("leases/x.0")
    store.remove("leases/x.0")  # removing what is gone is fine
    assert not store.exists("leases/x.0")
    with pytest.raises(FileNotFoundError):
        store.read_bytes("images/ab/gone.png")


def test_tables_compaction_and_corrupt_parts_on_every_backend(any_store):
    store = any_store
    first = tables.append(store, "t", [{"key": "a", "v": 1}])
    for i in range(3):
        tables.append(store, "t", [{"key": "a", "v": 2 + i}, {"key": f"b{i}", "v": i}])
    seen: set[str] = set()
    assert tables.read_new(store, "t", seen).num_rows == 7 and tables.read_new(store, "t", seen) is None
    store.write_bytes(first, b"not parquet")  # a part whose bytes no longer match its name
    assert tables.latest_by(tables.read(store, "t"), "key")["a"]["v"] == 4
    tables.compact_all(store, min_parts=2)
    assert len(store.list("tables/t", ".parquet")) == 1 and tables.read(store, "t").num_rows == 6
    assert store.walk("leases/locks") == []  # an object store's compaction lock (a lease) was given back


def test_a_changed_object_fails_its_checksum(any_store):
    sha = any_store.write_bytes("images/cd/cd.png", b"original")
    any_store.write_bytes("images/cd/cd.png", b"changed!")
    with pytest.raises(CorruptArtifact):
        any_store.read_bytes("images/cd/cd.png", sha)
    assert not any_store.verify("images/cd/cd.png", sha)
    good = any_store.write_bytes("images/ef/ef.png", b"kept")
    assert any_store.verified({"images/cd/cd.png": sha, "images/ef/ef.png": good, "images/gh/gone.png": good}) == {"images/ef/ef.png"}


def test_store_urls_resolve_and_links_stay_urls(tmp_path, monkeypatch):
    assert resolve_store_root("s3://bucket/prefix/") == "s3://bucket/prefix"
    assert resolve_store_root(f"file://{tmp_path}") == tmp_path
    monkeypatch.setenv("DIFFEVAL_STORE", "memory://team/cache")
    store = Store()
    assert not store.is_local and store.path("runs/r/report.html") == "memory://team/cache/runs/r/report.html"


def test_unknown_protocols_and_missing_buckets_are_one_line(s3_server):
    with pytest.raises(BadInput, match=r"store nosuchproto://x: not a URL fsspec knows .*; pass a local folder"):
        Store("nosuchproto://x").check_writable()
    with pytest.raises(BadInput, match=r"bucket no-such-bucket not found; create it or pass another --store"):
        Store("s3://no-such-bucket/store").check_writable()


def test_a_cut_upload_is_never_visible_and_the_error_is_one_line(s3_server, s3_store):
    """A 24 MB PUT through a proxy that is cut mid-body: the writer gets StoreUnreachable, the object never appears."""
    from tests.objectstore import TcpProxy

    proxy = TcpProxy(s3_server.port, cut_after=4 << 20)
    script = ("import sys; from artifacts.store import Store; from artifacts.errors import StoreUnreachable\n"
              "try:\n    Store(sys.argv[1]).write_bytes('images/ee/big.png', bytes(24 << 20))\n"
              "except StoreUnreachable as exc:\n    print(exc); sys.exit(3)\n")
    env = {**os.environ, **s3_server.env(proxy.url), "PYTHONPATH": str(REPO)}
    writer = subprocess.run([sys.executable, "-c", script, s3_store], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=300)
    out = writer.stdout
    assert writer.returncode == 3, out
    assert out.count("\n") == 1 and "cannot write images/ee/big.png" in out and "run the same command again" in out
    store = Store(s3_store)
    assert not store.exists("images/ee/big.png") and store.list("images/ee") == []


def test_the_demo_needs_a_local_folder():
    from flows.demo import write_demo_spec

    with pytest.raises(BadInput, match=r"--store s3://bucket/x: the demo builds its models into the store, so it needs a local folder"):
        write_demo_spec("s3://bucket/x")
