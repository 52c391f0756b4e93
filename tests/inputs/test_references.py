"""Reference-set readers: folders, Parquet (bytes and datasets' struct form), hub ids, the procedural set."""

from __future__ import annotations

import io

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from artifacts.errors import BadInput
from tasks.extractors.preprocess import decode_image
from tasks.inputs.references import procedural_reference_set, reference_images, reference_images_with_labels
from tasks.spec import ReferenceSpec


def _png(value: int, size: int = 4) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), value, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "refs"
    for rel, data in {
        "b/2.png": _png(2),
        "a/10.jpg": _jpeg(10),
        "a/1.PNG": _png(1),
        "top.bmp": b"",  # replaced below by a real BMP
        "c/deep/3.webp": b"",
        "notes.txt": b"not an image",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "top.bmp")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "c/deep/3.webp")
    return root


def test_folder_is_recursive_sorted_and_filtered(folder) -> None:
    rows = reference_images_with_labels(ReferenceSpec(path="refs"), folder.parent)
    names = ["refs/a/1.PNG", "refs/a/10.jpg", "refs/b/2.png", "refs/c/deep/3.webp", "refs/top.bmp"]
    assert [r[0] for r in rows] == names
    assert [r[2] for r in rows] == ["a", "a", "b", "c", None]  # first sub-folder = label
    assert rows[0][1] == (folder / "a/1.PNG").read_bytes()
    assert all(decode_image(data, source).size == (4, 4) for source, data, _ in rows)
    limited = reference_images(ReferenceSpec(path=str(folder), limit=2))  # absolute path, base_dir unused
    assert [s.rsplit("/", 2)[-2:] for s, _ in limited] == [["a", "1.PNG"], ["a", "10.jpg"]]


def test_parquet_with_bytes_column_and_labels(tmp_path) -> None:
    table = pa.table({"img": [_png(i) for i in range(5)], "label": [3, 1, 4, 1, 5]})
    pq.write_table(table, tmp_path / "ref.parquet")
    spec = ReferenceSpec(path="ref.parquet", image_column="img", label_column="label", limit=3)
    rows = reference_images_with_labels(spec, tmp_path)
    assert rows == [("ref.parquet[0]", _png(0), "3"), ("ref.parquet[1]", _png(1), "1"), ("ref.parquet[2]", _png(2), "4")]
    with pytest.raises(BadInput, match=r"column 'image' missing \(found: img, label\).*reference.image_column"):
        reference_images(ReferenceSpec(path="ref.parquet"), tmp_path)


def test_parquet_written_by_datasets_struct_form(tmp_path) -> None:
    # datasets stores Image columns as struct<bytes, path>; write one the way it does.
    images = [Image.open(io.BytesIO(_png(v))) for v in (7, 8, 9)]
    ds = datasets.Dataset.from_dict({"image": images}).cast_column("image", datasets.Image())
    ds.to_parquet(str(tmp_path / "train.parquet"))
    assert pa.types.is_struct(pq.read_schema(tmp_path / "train.parquet").field("image").type)
    rows = reference_images(ReferenceSpec(path="train.parquet"), tmp_path)
    assert [np.asarray(decode_image(d, s))[0, 0, 0] for s, d in rows] == [7, 8, 9]
    # A struct with only a path (bytes null) reads the file next to the table.
    (tmp_path / "x.png").write_bytes(_png(42))
    struct = pa.array([{"bytes": None, "path": "x.png"}], pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    pq.write_table(pa.table({"image": struct}), tmp_path / "paths.parquet")
    assert reference_images(ReferenceSpec(path="paths.parquet"), tmp_path) == [("paths.parquet[0]", _png(42))]


def test_empty_missing_and_unreadable_are_bad_input(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(BadInput, match=r"^reference: no images in empty; "):
        reference_images(ReferenceSpec(path="empty"), tmp_path)
    with pytest.raises(BadInput, match=r"reference: \./nowhere not found"):
        reference_images(ReferenceSpec(path="./nowhere"), tmp_path)
    (tmp_path / "fake.parquet").write_bytes(b"PAR1 but not really")
    with pytest.raises(BadInput, match="fake.parquet is not a folder or a Parquet file"):
        reference_images(ReferenceSpec(path="fake.parquet"), tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"\x89PNG truncated")
    ((source, data),) = reference_images(ReferenceSpec(path="bad"), tmp_path)
    with pytest.raises(BadInput, match=r"^bad/x.png: cannot read image"):
        decode_image(data, source)


def test_hub_dataset_offline_and_online(monkeypatch, tmp_path) -> None:
    def offline(path, split):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    message = r"hub dataset someone/imagenet-val \(split validation\) not available \(ConnectionError\)"
    with pytest.raises(BadInput, match=message):
        reference_images(ReferenceSpec(path="someone/imagenet-val", split="validation"), tmp_path)

    images = [Image.open(io.BytesIO(_png(v))) for v in (5, 6, 7)]
    ds = datasets.Dataset.from_dict({"image": images, "label": [0, 1, 2]}).cast_column("image", datasets.Image())
    monkeypatch.setattr(datasets, "load_dataset", lambda path, split: ds)
    spec = ReferenceSpec(path="someone/imagenet-val", label_column="label", limit=2)
    rows = reference_images_with_labels(spec, tmp_path)
    assert [(s, l) for s, _, l in rows] == [("someone/imagenet-val[train][0]", "0"), ("someone/imagenet-val[train][1]", "1")]
    assert np.asarray(decode_image(rows[1][1], rows[1][0]))[0, 0, 0] == 6


def test_procedural_set_is_deterministic_and_readable(tmp_path) -> None:
    first = procedural_reference_set(tmp_path / "a", per_class=2, size=32, seed=0)
    second = procedural_reference_set(tmp_path / "b", per_class=2, size=32, seed=0)
    rows_a = reference_images_with_labels(ReferenceSpec(path=str(first)))
    rows_b = reference_images_with_labels(ReferenceSpec(path=str(second)))
    assert len(rows_a) == 20 and len({label for _, _, label in rows_a}) == 10
    assert [d for _, d, _ in rows_a] == [d for _, d, _ in rows_b]
    assert len({d for _, d, _ in rows_a}) == 20  # every image differs
    assert all(decode_image(d, s).size == (32, 32) for s, d, _ in rows_a)
    other = procedural_reference_set(tmp_path / "c", per_class=2, size=32, seed=1)
    assert [d for _, d, _ in reference_images_with_labels(ReferenceSpec(path=str(other)))] != [d for _, d, _ in rows_a]
