"""Write order is a column: the newest row wins whatever the part names (hashes) and across compaction."""

import io

import pyarrow as pa
import pyarrow.parquet as pq

from artifacts import tables
from artifacts.keys import sha256_bytes
from artifacts.store import Store


def _legacy_part(store: Store, table: str, rows: list[dict]) -> str:
    """A part as stores wrote it before WRITTEN existed: plain `<sha256>.parquet`, no order column."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    rel = f"tables/{table}/{sha256_bytes(buffer.getvalue())}.parquet"
    store.write_bytes(rel, buffer.getvalue())
    return rel


def _newest(store: Store, key: str = "k"):
    return tables.latest_by(tables.read(store, "t"), "key")[key]["v"]


def test_newest_row_wins_every_time_also_across_compaction(tmp_path):
    store = Store(tmp_path)
    for i in range(60):
        tables.append(store, "t", [{"key": "k", "v": i}, {"key": f"other-{i % 3}", "v": i}])
        assert _newest(store) == i
        if i % 7 == 6:
            tables.compact(store, "t")
            assert len(store.list("tables/t", ".parquet")) == 1
            assert _newest(store) == i
    assert [_newest(store, f"other-{j}") for j in range(3)] == [57, 58, 59]


def test_rows_come_back_in_write_order_with_only_the_columns_asked_for(tmp_path):
    store = Store(tmp_path)
    for i in range(20):
        tables.append(store, "t", [{"key": str(i), "v": i}])
    tables.compact(store, "t", min_parts=2)
    tables.append(store, "t", [{"key": "last", "v": 99}])
    assert tables.read(store, "t").column("v").to_pylist() == [*range(20), 99]
    assert tables.read(store, "t").column_names == ["key", "v"]
    assert tables.read(store, "t", columns=["v"]).column_names == ["v"]
    stamps = tables.read(store, "t", columns=["v", tables.WRITTEN]).column(tables.WRITTEN).to_pylist()
    assert stamps == sorted(stamps) and len(set(stamps)) == 21


def test_parts_without_order_sort_first_and_stay_first_after_compaction(tmp_path):
    store = Store(tmp_path)
    tables.append(store, "t", [{"key": "k", "v": 1}])
    # Several legacy parts, so that some hash names sort before the new part and some after it.
    for n in range(6):
        _legacy_part(store, "t", [{"key": "k", "v": -1 - n}])
    assert _newest(store) == 1
    tables.compact(store, "t")
    assert len(store.list("tables/t", ".parquet")) == 1
    assert _newest(store) == 1
    tables.append(store, "t", [{"key": "k", "v": 2}])
    assert _newest(store) == 2


def test_an_old_store_compacted_alone_still_loses_to_later_writes(tmp_path):
    store = Store(tmp_path)
    for n in range(4):
        _legacy_part(store, "t", [{"key": "k", "v": n}])
    tables.compact(store, "t")
    tables.append(store, "t", [{"key": "k", "v": 100}])
    assert _newest(store) == 100
    assert tables.read(store, "t", columns=[tables.WRITTEN]).column(tables.WRITTEN).null_count == 4


def test_write_stamps_strictly_increase_within_a_process():
    stamps = [tables.write_stamp() for _ in range(2000)]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
