"""Planning images made elsewhere: manifests (CSV / JSONL / Parquet), a folder, a local hub dataset; bad images; column errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from artifacts.errors import BadInput
from artifacts.store import Store
from tasks.plan.prepare import prepare
from tests.inputs.outside_helpers import MODELS, PROMPTS, outside_rows, random_png, write_manifest


def _spec(folder: Path, images: dict | list[dict], **extra) -> Path:
    models = images if isinstance(images, list) else [{"name": m, "images": images} for m in MODELS]
    spec = {"name": "outside", "task": "text-to-image", "models": models, "metrics": {}, **extra}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _keys(prepared) -> dict[str, list[str]]:
    return {v.variant_id: sorted(i.key for i in prepared.items if i.variant_id == v.variant_id) for v in prepared.variants}


@pytest.fixture
def rows(tmp_path) -> list[dict]:
    return outside_rows(tmp_path)


def test_csv_jsonl_and_parquet_manifests_plan_the_same_items(tmp_path, rows):
    planned = {}
    for fmt in ("csv", "jsonl", "parquet"):
        columns = {"prompt": "caption"} | ({"image": "png"} if fmt == "parquet" else {})
        spec = _spec(tmp_path, {"path": write_manifest(tmp_path, rows, fmt).name, "columns": columns})
        prepared = prepare(spec, Store(tmp_path / "store"))
        planned[fmt] = _keys(prepared)
        assert [c.text for c in prepared.conditions] == PROMPTS  # every model made elsewhere: the manifest's prompts
        assert [(v.variant_id, v.pipeline) for v in prepared.variants] == [("x", "outside-images"), ("y", "outside-images")]
        assert len(prepared.items) == 12 and {i.seed for i in prepared.items} == {0, 1}
    assert planned["csv"] == planned["jsonl"] == planned["parquet"]  # keys come from the pixels, not the file format
    assert not (tmp_path / "store").exists()  # planning writes nothing


def test_a_folder_with_sidecar_prompts_and_a_local_hub_dataset(tmp_path):
    folder = tmp_path / "made"
    for p, prompt in enumerate(PROMPTS):
        random_png(folder / f"{p}.png", seed=p)
        (folder / f"{p}.txt").write_text(prompt + "\n")
    spec = _spec(tmp_path, [{"name": "x", "images": {"path": "made"}}])
    by_folder = prepare(spec, Store(tmp_path / "store"))
    assert [c.text for c in by_folder.conditions] == PROMPTS and len(by_folder.items) == 3
    # The same images as a hub imagefolder (metadata.csv), loaded by datasets.load_dataset.
    hub = tmp_path / "hub"
    hub.mkdir()
    lines = ["file_name,text"] + [f"{p}.png,{prompt}" for p, prompt in enumerate(PROMPTS)]
    for p in range(3):
        (hub / f"{p}.png").write_bytes((folder / f"{p}.png").read_bytes())
    (hub / "metadata.csv").write_text("\n".join(lines) + "\n")
    spec = _spec(tmp_path, [{"name": "x", "images": {"path": "hub", "source": "hf"}}])
    by_dataset = prepare(spec, Store(tmp_path / "store"))
    assert _keys(by_dataset) == _keys(by_folder)
    spec = _spec(tmp_path, [{"name": "x", "images": {"path": "hub"}}])  # the folder reader takes metadata.csv too
    assert _keys(prepare(spec, Store(tmp_path / "store"))) == _keys(by_folder)


def test_a_bad_image_stops_planning_naming_the_file_or_is_skipped_with_a_count(tmp_path, rows):
    (tmp_path / rows[3]["file"]).write_bytes(b"not a png at all")
    manifest = write_manifest(tmp_path, rows, "csv").name
    spec = _spec(tmp_path, {"path": manifest, "columns": {"prompt": "caption"}})
    with pytest.raises(BadInput, match=rf"{rows[3]['file']}.*cannot decode the image.*images.on_bad_image: skip"):
        prepare(spec, Store(tmp_path / "store"))
    spec = _spec(tmp_path, {"path": manifest, "columns": {"prompt": "caption"}, "on_bad_image": "skip"})
    prepared = prepare(spec, Store(tmp_path / "store"))
    assert len(prepared.items) == 11
    assert {k: len(v) for k, v in prepared.skipped.items()} == {"x": 1}
    assert not (tmp_path / "store").exists()


def test_a_column_mapping_that_does_not_match_is_one_line(tmp_path, rows):
    spec = _spec(tmp_path, {"path": write_manifest(tmp_path, rows, "csv").name, "columns": {"prompt": "text_of_prompt"}})
    with pytest.raises(BadInput, match=r"column 'text_of_prompt' \(images.columns.prompt\) not found "
                                       r"\(found: file, caption, model, seed\); fix images.columns"):
        prepare(spec, Store(tmp_path / "store"))
    spec = _spec(tmp_path, {"path": "manifest.csv"})  # no mapping, and `caption` is not a usual prompt name... it is
    assert len(prepare(spec, Store(tmp_path / "store")).items) == 12
    spec = _spec(tmp_path, [{"name": "z", "images": {"path": "manifest.csv"}}])
    with pytest.raises(BadInput, match=r"no rows of model 'z'.*\(models there: x, y\); set images.model"):
        prepare(spec, Store(tmp_path / "store"))


def test_a_model_is_a_pipeline_or_images_not_both(tmp_path):
    spec = _spec(tmp_path, [{"name": "x", "path": "somewhere", "images": {"path": "manifest.csv"}}])
    with pytest.raises(BadInput, match="give exactly one of path"):
        prepare(spec, Store(tmp_path / "store"))


def test_from_the_cli_a_bad_image_is_one_line_exit_2_and_nothing_written(tmp_path, rows, capsys):
    from flows.app.cli import main

    (tmp_path / rows[0]["file"]).write_bytes(b"")
    spec = _spec(tmp_path, {"path": write_manifest(tmp_path, rows, "csv").name})
    assert main(["run", str(spec), "--store", str(tmp_path / "store")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("diffeval: error: manifest.csv[0] images/x-0-0.png: cannot decode"), lines
    assert not (tmp_path / "store").exists()


def test_class_conditional_images_from_class_folders_need_no_classes_section(tmp_path):
    for label in ("tench", "church"):
        for i in range(2):
            random_png(tmp_path / "made" / label / f"{i}.png", seed=10 * len(label) + i)
    spec = _spec(tmp_path, [{"name": "x", "images": {"path": "made"}}], task="class-conditional")
    prepared = prepare(spec, Store(tmp_path / "store"))
    assert [(c.text, c.groups) for c in prepared.conditions] == [("church", ("class:church",)), ("tench", ("class:tench",))]
    assert sorted((i.condition_id, i.seed, i.sample_index) for i in prepared.items) == [
        ("class-church", 0, 0), ("class-church", 0, 1), ("class-tench", 0, 0), ("class-tench", 0, 1)]
