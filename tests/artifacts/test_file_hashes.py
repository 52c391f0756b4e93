"""Weight-file hashes are read once per version of the file on a machine, kept in the local hash cache."""

from __future__ import annotations

import hashlib
import os

import pytest

from artifacts import keys


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(keys.HASH_CACHE_ENV, str(tmp_path / "cache"))
    keys._file_sha256.cache_clear()  # each test starts as a new process would
    yield tmp_path / "cache"
    keys._file_sha256.cache_clear()


def _weights(path, fill: bytes):
    path.write_bytes(fill * keys.LARGE_FILE + b"tail")
    return path


def _no_reads(monkeypatch):
    def refuse(handle, name):
        raise AssertionError(f"{handle.name} was read again")

    monkeypatch.setattr(keys.hashlib, "file_digest", refuse)


def test_a_large_file_is_hashed_once_then_found_in_the_cache_by_a_new_process(cache, tmp_path, monkeypatch):
    weights = _weights(tmp_path / "model.safetensors", b"a")
    expected = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert keys.file_sha256(weights) == expected
    assert [p.read_text() for p in (cache / "file-sha256").iterdir()] == [expected]  # one record, no temp left
    keys._file_sha256.cache_clear()
    _no_reads(monkeypatch)
    assert keys.file_sha256(weights) == expected


def test_a_rewritten_file_is_read_again_even_with_its_size_and_mtime_put_back(cache, tmp_path):
    weights = _weights(tmp_path / "model.safetensors", b"a")
    before = keys.file_sha256(weights)
    stat = weights.stat()
    _weights(weights, b"b")  # same size
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: only the ctime tells
    keys._file_sha256.cache_clear()
    assert keys.file_sha256(weights) == hashlib.sha256(weights.read_bytes()).hexdigest() != before


def test_small_files_are_not_kept_and_an_unwritable_cache_costs_only_a_read(cache, tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    config.write_text("{}")
    assert keys.file_sha256(config) == hashlib.sha256(b"{}").hexdigest() and not cache.exists()
    cache.write_text("a file where the cache folder should be")
    weights = _weights(tmp_path / "model.bin", b"c")
    assert keys.file_sha256(weights) == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_the_cache_folder_follows_xdg_when_diffeval_cache_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv(keys.HASH_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert keys.hash_cache_dir() == tmp_path / "diffeval"
