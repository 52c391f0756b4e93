"""Edit sets: builtin rows, table readers, column mapping, errors, the source-image rule and the heatmap."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from artifacts.errors import BadInput
from artifacts.keys import key_of, sha256_bytes
from tasks.inputs.edits import builtin_edits, load_edits, source_to_generation_image
from tasks.reporting.heatmap import grid_to_heatmap_png
from tasks.spec import EditsSpec

TEXTS = {"input": "a red square", "edit": "make it blue", "output": "a blue square"}


def png_bytes(img: Image.Image, **save) -> bytes:
    out = io.BytesIO()
    img.save(out, format=save.pop("format", "PNG"), **save)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def gradient(width: int, height: int) -> Image.Image:
    """Every column a distinct colour: crops can be located exactly."""
    x = np.arange(width, dtype=np.uint8)[None, :, None]
    y = np.arange(height, dtype=np.uint8)[:, None, None]
    pixels = np.concatenate([np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1)),
                             np.full((height, width, 1), 7, np.uint8)], axis=-1)
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB")


@pytest.fixture
def pictures(tmp_path):
    """Two source images on disk under imgs/: an RGB PNG and a JPEG."""
    (tmp_path / "imgs").mkdir()
    red = png_bytes(Image.new("RGB", (20, 10), "red"))
    (tmp_path / "imgs" / "red.png").write_bytes(red)
    (tmp_path / "imgs" / "blue.jpg").write_bytes(png_bytes(Image.new("RGB", (12, 12), "blue"), format="JPEG"))
    return {"red": red}


def write_csv(path, header: str, lines: list[str]) -> None:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")


def file_spec(path, **kw) -> EditsSpec:
    return EditsSpec(source="file", path=str(path), **kw)


# builtin


def test_builtin_rows_are_deterministic_rgb_pngs_with_content_ids():
    rows = builtin_edits()
    assert len(rows) == 8 and rows == builtin_edits()
    assert len({r["edit_id"] for r in rows}) == 8 and len({r["image_sha256"] for r in rows}) == 8
    for row in rows:
        img = decoded(row["image_bytes"])
        assert (img.format, img.mode, img.size) == ("PNG", "RGB", (64, 64))
        assert row["image_sha256"] == sha256_bytes(row["image_bytes"])
        ident = {"image_sha256": row["image_sha256"], **{k: row[k] for k in ("input", "edit", "output")}}
        assert row["edit_id"] == key_of(ident)[:16]
        assert all(isinstance(row[k], str) and row[k] for k in ("input", "edit", "output"))
    assert rows[0]["input"] == "a red circle on a white background"
    assert decoded(rows[0]["image_bytes"]).getpixel((32, 32)) == (255, 0, 0)


def test_builtin_limit_and_spec_default():
    assert len(load_edits(EditsSpec(), ".")) == 8
    assert [r["edit_id"] for r in load_edits(EditsSpec(limit=3), ".")] == [r["edit_id"] for r in builtin_edits()[:3]]


# file readers


def test_csv_paths_resolve_against_the_table_folder(tmp_path, pictures):
    sub = tmp_path / "set"
    sub.mkdir()
    write_csv(sub / "edits.csv", "image,input,edit,output",
              ["../imgs/red.png,a red square,make it blue,a blue square", f"{tmp_path / 'imgs' / 'blue.jpg'},a blue tile,make it red,a red tile"])
    rows = load_edits(file_spec("set/edits.csv"), base_dir=tmp_path)
    assert [r["input"] for r in rows] == ["a red square", "a blue tile"]
    assert rows[0]["image_bytes"] == pictures["red"]  # an RGB PNG is kept byte for byte
    jpeg_as_png = decoded(rows[1]["image_bytes"])
    assert (jpeg_as_png.format, jpeg_as_png.mode, jpeg_as_png.size) == ("PNG", "RGB", (12, 12))
    assert load_edits(file_spec("set"), base_dir=tmp_path) == rows  # a folder holding one table works too


def test_jsonl_with_paths_and_base64_structs(tmp_path, pictures):
    green = png_bytes(Image.new("RGB", (9, 9), "green"))
    lines = [{"image": "imgs/red.png", **TEXTS},
             {"image": {"bytes": base64.b64encode(green).decode(), "path": None}, **TEXTS, "output": "a green square"},
             {"image": {"bytes": None, "path": "imgs/red.png"}, **TEXTS, "edit": "paint it"}]
    (tmp_path / "edits.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    rows = load_edits(file_spec(tmp_path / "edits.jsonl"), base_dir="/nonexistent")
    assert [r["image_bytes"] for r in rows] == [pictures["red"], green, pictures["red"]]


def test_parquet_bytes_and_struct_columns_with_mapping(tmp_path):
    images = [png_bytes(Image.new("RGB", (8, 8), c)) for c in ("red", "blue")]
    table = pa.table({"src": images, "caption": ["a red tile", "a blue tile"], "instruction": ["x", "y"], "target": ["a", "b"]})
    pq.write_table(table, tmp_path / "plain.parquet")
    mapping = {"image": "src", "input": "caption", "edit": "instruction", "output": "target"}
    rows = load_edits(file_spec(tmp_path / "plain.parquet", columns=mapping), tmp_path)
    assert [(r["image_bytes"], r["input"], r["edit"], r["output"]) for r in rows] == [
        (images[0], "a red tile", "x", "a"), (images[1], "a blue tile", "y", "b")]
    structs = pa.table({"image": [{"bytes": b, "path": None} for b in images], **{k: [v, v] for k, v in TEXTS.items()}})
    pq.write_table(structs, tmp_path / "structs.parquet")
    assert [r["image_bytes"] for r in load_edits(file_spec(tmp_path / "structs.parquet"), tmp_path)] == images


def test_non_rgb_sources_become_rgb_pngs(tmp_path):
    sources = [Image.new("RGBA", (6, 6), (255, 0, 0, 128)), Image.new("L", (6, 6), 90), Image.new("RGB", (6, 6), "red").convert("P")]
    pq.write_table(pa.table({"image": [png_bytes(s) for s in sources], **{k: [f"{v} {i}" for i in range(3)] for k, v in TEXTS.items()}}), tmp_path / "e.parquet")
    rows = load_edits(file_spec(tmp_path / "e.parquet"), tmp_path)
    assert [decoded(r["image_bytes"]).mode for r in rows] == ["RGB"] * 3
    assert [decoded(r["image_bytes"]).getpixel((0, 0)) for r in rows] == [(255, 0, 0), (90, 90, 90), (255, 0, 0)]


def test_limit_and_duplicate_rows(tmp_path, pictures):
    write_csv(tmp_path / "e.csv", "image,input,edit,output",
              ["imgs/red.png,a,b,c", "imgs/red.png,a,b,c", "imgs/blue.jpg,a,b,c", "imgs/red.png,d,e,f"])
    rows = load_edits(file_spec(tmp_path / "e.csv"), tmp_path)
    assert len(rows) == 3  # the repeated first row would only repeat the same generation keys
    assert [r["input"] for r in load_edits(file_spec(tmp_path / "e.csv", limit=2), tmp_path)] == ["a", "a"]


# errors


def assert_bad(spec: EditsSpec, base_dir, *fragments: str) -> str:
    with pytest.raises(BadInput) as info:
        load_edits(spec, base_dir)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_caption_column_lists_found_columns(tmp_path, pictures):
    write_csv(tmp_path / "e.csv", "image,caption,edit,output", ["imgs/red.png,a,b,c"])
    assert_bad(file_spec(tmp_path / "e.csv"), tmp_path, "e.csv", "'input' missing", "image, caption, edit, output", "columns: {input:")
    write_csv(tmp_path / "f.csv", "picture,input,edit,output", ["imgs/red.png,a,b,c"])
    assert_bad(file_spec(tmp_path / "f.csv"), tmp_path, "'image' missing", "columns: {image:")


def test_missing_and_unreadable_images_name_row_and_path(tmp_path, pictures):
    write_csv(tmp_path / "e.csv", "image,input,edit,output", ["imgs/red.png,a,b,c", "imgs/nope.png,a,b,c"])
    assert_bad(file_spec(tmp_path / "e.csv"), tmp_path, "e.csv", "row 2", "imgs/nope.png", "fix the path")
    (tmp_path / "imgs" / "junk.png").write_bytes(b"not an image")
    write_csv(tmp_path / "j.csv", "image,input,edit,output", ["imgs/junk.png,a,b,c"])
    assert_bad(file_spec(tmp_path / "j.csv"), tmp_path, "row 1", "imgs/junk.png", "not a readable image")
    write_csv(tmp_path / "k.csv", "image,input,edit,output", [",a,b,c"])
    assert_bad(file_spec(tmp_path / "k.csv"), tmp_path, "row 1", "no image")


def test_empty_caption_empty_set_and_unknown_role(tmp_path, pictures):
    write_csv(tmp_path / "e.csv", "image,input,edit,output", ["imgs/red.png,a,,c"])
    assert_bad(file_spec(tmp_path / "e.csv"), tmp_path, "row 1", "'edit' is empty")
    write_csv(tmp_path / "empty.csv", "image,input,edit,output", [])
    assert_bad(file_spec(tmp_path / "empty.csv"), tmp_path, "empty.csv", "empty")
    assert_bad(file_spec(tmp_path / "e.csv", columns={"prompt": "x"}), tmp_path, "edits.columns", "prompt", "image, input, edit, output")


def test_bad_paths_and_unreadable_tables(tmp_path):
    assert_bad(EditsSpec(source="file"), tmp_path, "edits.path", "missing")
    assert_bad(file_spec("nothere.csv"), tmp_path, "nothere.csv", "not found")
    (tmp_path / "notes.txt").write_text("hi")
    assert_bad(file_spec("notes.txt"), tmp_path, "notes.txt", ".csv, .jsonl or .parquet")
    (tmp_path / "bad.jsonl").write_text('{"image": "x"\n')
    assert_bad(file_spec("bad.jsonl"), tmp_path, "bad.jsonl", "unreadable table")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 garbage")
    assert_bad(file_spec("bad.parquet"), tmp_path, "bad.parquet", "unreadable table")
    (tmp_path / "folder").mkdir()
    assert_bad(file_spec("folder"), tmp_path, "folder", "exactly one table", "found: none")


def test_folder_with_two_tables_is_ambiguous(tmp_path):
    for name in ("a.csv", "b.parquet"):
        (tmp_path / name).write_text("x")
    assert_bad(file_spec("."), tmp_path, "exactly one table", "a.csv, b.parquet")


# hf


@pytest.fixture
def datasets_offline(tmp_path, monkeypatch):
    import datasets
    import huggingface_hub.constants

    # Both libraries read these at import time: patch the live values, so no request leaves the machine.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    return datasets


def test_hf_local_dataset_keeps_stored_bytes(tmp_path, datasets_offline):
    ds_lib = datasets_offline
    images = [png_bytes(Image.new("RGB", (8, 8), c)) for c in ("red", "blue")]
    features = ds_lib.Features({"image": ds_lib.Image(), **{k: ds_lib.Value("string") for k in TEXTS}})
    data = {"image": [{"bytes": b, "path": None} for b in images], **{k: [v, v + "!"] for k, v in TEXTS.items()}}
    (tmp_path / "demo" / "data").mkdir(parents=True)
    ds_lib.Dataset.from_dict(data, features=features).to_parquet(str(tmp_path / "demo" / "data" / "train-00000-of-00001.parquet"))
    rows = load_edits(EditsSpec(source="hf", path="demo"), base_dir=tmp_path)
    assert [r["image_bytes"] for r in rows] == images and rows[1]["output"] == "a blue square!"
    assert_bad(EditsSpec(source="hf", path="demo", split="test"), tmp_path, "demo", "split 'test'", "edits.split")


def test_hf_unreachable_names_the_dataset_and_the_fix(tmp_path, datasets_offline):
    message = assert_bad(EditsSpec(source="hf", path="sayakpaul/instructpix2pix-demo"), tmp_path,
                         "sayakpaul/instructpix2pix-demo", "unreachable", "source: file")
    assert len(message) < 300


# source_to_generation_image


@pytest.mark.parametrize("size,expected_box", [((96, 64), (16, 0)), ((64, 96), (0, 16)), ((64, 64), (0, 0))])
def test_center_crop_offsets_are_exact_at_scale_one(size, expected_box):
    src = gradient(*size)
    out = source_to_generation_image(png_bytes(src), 64, 64, "center-crop")
    left, top = expected_box
    assert out.size == (64, 64) and out.mode == "RGB"
    assert np.array_equal(np.asarray(out), np.asarray(src)[top : top + 64, left : left + 64])


def test_center_crop_scales_the_short_side_then_crops():
    src = gradient(100, 60)
    out = source_to_generation_image(png_bytes(src), 64, 64, "center-crop")
    scaled = src.resize((107, 64), Image.Resampling.BICUBIC)  # 100 * 64/60 = 106.7 → 107
    assert np.array_equal(np.asarray(out), np.asarray(scaled.crop((21, 0, 85, 64))))
    wide = source_to_generation_image(png_bytes(Image.new("RGB", (64, 64), "red")), 96, 32, "center-crop")
    assert wide.size == (96, 32) and wide.getpixel((50, 16)) == (255, 0, 0)


def test_stretch_and_upscale_and_unknown_rule():
    src = gradient(100, 60)
    out = source_to_generation_image(png_bytes(src), 64, 48, "stretch")
    assert np.array_equal(np.asarray(out), np.asarray(src.resize((64, 48), Image.Resampling.BICUBIC)))
    assert source_to_generation_image(builtin_edits()[0]["image_bytes"], 512, 512, "center-crop").size == (512, 512)
    with pytest.raises(BadInput, match="edits.resize 'squash'"):
        source_to_generation_image(png_bytes(src), 64, 64, "squash")


# heatmap


def test_heatmap_is_a_readable_png_with_grey_nan_cells():
    values = [[0.08, 0.1, float("nan")], [0.05, -0.01, 0.2]]
    data = grid_to_heatmap_png(values, ["igs=1.0", "igs=1.5"], ["gs=5", "gs=7.5", "gs=10"], "clip_directional_similarity",
                               row_axis="image_guidance_scale", col_axis="guidance_scale")
    img = decoded(data)
    assert img.format == "PNG" and img.mode == "RGB"
    assert 3 * 56 < img.width < 1000 and 2 * 28 < img.height < 600
    colours = {c: n for n, c in img.getcolors(img.width * img.height)}
    # A cell is thousands of pixels; anti-aliased text edges give a few of any grey.
    assert colours.get((190, 190, 190), 0) > 1000  # the NaN cell
    assert colours.get((253, 231, 37), 0) > 1000 and colours.get((68, 1, 84), 0) > 1000  # both ends of the scale are used
    no_nan = decoded(grid_to_heatmap_png([[1.0, 1.0]], ["a"], ["b", "c"], "flat"))
    assert {c: n for n, c in no_nan.getcolors(no_nan.width * no_nan.height)}.get((190, 190, 190), 0) < 1000


def test_heatmap_long_labels_and_shape_errors():
    long = decoded(grid_to_heatmap_png([[1.0, 2.0]], ["r"], ["scheduler=DPMSolverMultistepScheduler", "x"], "t"))
    assert long.height > long.width / 3  # long column labels are rotated, not stretched across
    with pytest.raises(ValueError, match="2 rows x 1 columns"):
        grid_to_heatmap_png([[1.0]], ["a", "b"], ["c"], "t")
