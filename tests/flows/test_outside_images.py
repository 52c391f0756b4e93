"""Images made elsewhere, end to end through the CLI's flow: a manifest of two outside models, and one mixed with a pipeline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from flows.app.cli import main, run_spec
from tasks.inputs.references import procedural_reference_set
from tests.inputs.outside_helpers import PROMPTS, outside_rows, random_png, write_manifest

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _write(folder: Path, spec: dict) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_manifest_of_two_outside_models_runs_end_to_end_with_a_report(tmp_path, tiny_models):
    rows = outside_rows(tmp_path)
    rows[5]["file"] = "images/broken.png"
    (tmp_path / "images" / "broken.png").write_bytes(b"\x89PNG truncated")
    write_manifest(tmp_path, rows, "jsonl")
    procedural_reference_set(tmp_path / "ref", per_class=1, size=64)
    images = {"path": "manifest.jsonl", "columns": {"prompt": "caption"}, "on_bad_image": "skip"}
    spec = _write(tmp_path, {
        "name": "outside-e2e", "task": "text-to-image", "models": [{"name": "x", "images": images}, {"name": "y", "images": images}],
        "reference": {"path": "ref", "center_crop": 64},
        "metrics": {"clip_score": {"model": str(tiny_models["clip"])}, "fid": {}, "kid": {}, "is": {},
                    "inception_weights": str(tiny_models["inception"])}})
    store = str(tmp_path / "store")
    summary = run_spec(str(spec), store)
    assert summary["counts"]["images_planned"] == 11 and summary["counts"]["images_generated"] == 11  # imported
    metrics = {(m["model"], m["metric"], m["group"]) for m in summary["metrics"]}
    assert {("x", "clip_score", "all"), ("y", "clip_score", "all"), ("x", "fid", "all"), ("y", "kid", "all"), ("y", "is", "all")} <= metrics
    (cmp,) = summary["comparisons"]  # the two outside models pair up on the same prompts and seeds
    assert (cmp["a"], cmp["b"], cmp["metric"], cmp["n"]) == ("x", "y", "clip_score", 3)
    report = Path(summary["report"]).read_text()
    assert "Images made elsewhere" in report and "1 skipped as undecodable" in report and "broken.png" in report
    for src in re.findall(r"src='([^']+)'", report):
        assert src.startswith("data:image/png;base64,") or (Path(summary["report"]).parent / src).is_file()  # plots are embedded
    again = run_spec(str(spec), store)
    assert again["counts"]["images_generated"] == 0 and again["counts"]["features_extracted"] == 0
    assert [m["value"] for m in again["metrics"]] == [m["value"] for m in summary["metrics"]]


def test_a_pipeline_model_and_a_folder_of_outside_images_compare(tmp_path, tiny_models, capsys):
    for p, prompt in enumerate(PROMPTS):
        random_png(tmp_path / "made" / f"{p}.png", seed=p)
        (tmp_path / "made" / f"{p}.txt").write_text(prompt)
    (tmp_path / "prompts.txt").write_text("\n".join(PROMPTS) + "\n")
    spec = _write(tmp_path, {
        "name": "mixed", "task": "text-to-image", "prompts": {"source": "file", "path": "prompts.txt"},
        "models": [{"name": "sd", "path": str(tiny_models["sd-a"])}, {"name": "made", "images": {"path": "made"}}],
        "generation": {"steps": 2, "height": 64, "width": 64, "seeds": [0], "dtype": "float32", "device": "cpu"},
        "metrics": {"clip_score": {"model": str(tiny_models["clip"])}}})
    assert main(["run", str(spec), "--store", str(tmp_path / "store"), "--json"]) == 0
    import json

    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["images_planned"] == 6 and summary["counts"]["images_generated"] == 6
    (cmp,) = summary["comparisons"]
    assert (cmp["a"], cmp["b"], cmp["n"]) == ("sd", "made", 3)
