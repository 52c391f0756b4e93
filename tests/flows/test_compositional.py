"""GenEval and VQAScore in a run on GenEval's prompts: per-task rows with CIs, paired comparisons per task,
upstream's summary table and reasons in Parquet and the report, and nothing generated or extracted again."""

from pathlib import Path

import pytest
import yaml

from artifacts.errors import BadInput
from artifacts.runfiles import read_run_table
from artifacts.store import Store
from flows.app.cli import run_spec
from tasks.demo.tiny_compositional import build_compositional_models
from tasks.metrics.geneval_rules import TASKS

pytestmark = pytest.mark.usefixtures("prefect_harness")


def compositional_spec(folder: Path, tiny: dict, models: dict, **prompts) -> Path:
    spec = {
        "name": "compositional-test", "task": "text-to-image",
        "prompts": {"source": "geneval", "per_challenge": 1, **prompts},
        "models": [{"name": "a", "path": str(tiny["sd-a"])}, {"name": "b", "path": str(tiny["sd-b"])}],
        "generation": {"steps": 2, "height": 64, "width": 64, "seeds": [0, 1], "batch_size": 4, "dtype": "float32",
                       "device": "cpu"},
        "metrics": {"geneval": {"model": str(models["mask2former"]), "clip_model": str(tiny["clip"])},
                    "vqascore": {"model": str(models["vlm"]), "dtype": "float32"}},
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_models):
    models = build_compositional_models(tmp_path_factory.getbasetemp() / "compositional")
    folder = tmp_path_factory.mktemp("compositional")
    spec = compositional_spec(folder, tiny_models, models)
    return spec, str(folder / "store"), run_spec(str(spec), str(folder / "store")), models


def test_rows_per_task_with_cis_and_paired_comparisons_per_task(run):
    _, _, summary, _ = run
    groups = {(m["model"], m["metric"], m["group"]): m for m in summary["metrics"]}
    for model in ("a", "b"):
        for metric in ("geneval", "vqascore"):
            assert groups[(model, metric, "all")]["n"] == 6
            for task in TASKS:
                row = groups[(model, metric, f"challenge:{task}")]
                assert row["n"] == 1 and 0.0 <= row["value"] <= 1.0
    compared = {(c["metric"], c["group"]) for c in summary["group_comparisons"]}
    assert {("geneval", f"challenge:{t}") for t in TASKS} <= compared and ("vqascore", "challenge:counting") in compared


def test_geneval_summary_and_reasons_as_upstream_reports_them(run):
    _, store, summary, _ = run
    table = read_run_table(Store(store), summary["run_id"], "geneval_summary")
    results = read_run_table(Store(store), summary["run_id"], "geneval_results")
    assert len(results) == 24 and all(r["correct"] or r["reason"] for r in results)
    for model in ("a", "b"):
        mine = [r for r in results if r["variant"] == model]
        rows = {r["task"]: r for r in table if r["model"] == model}
        assert [t for t in rows if t in TASKS] == list(TASKS)
        for task in TASKS:
            tagged = [r["correct"] for r in mine if r["tag"] == task]
            assert rows[task]["score"] == pytest.approx(sum(tagged) / len(tagged))
        overall = rows["overall (mean of tasks)"]["score"]
        assert overall == pytest.approx(sum(rows[t]["score"] for t in TASKS) / len(TASKS))
        # The metric's `all` row is the mean over prompts; with one prompt per task it equals upstream's overall.
        (row,) = [m for m in summary["metrics"] if m["model"] == model and m["metric"] == "geneval" and m["group"] == "all"]
        assert row["value"] == pytest.approx(overall)
    report = Path(summary["report"]).read_text()
    assert "GenEval per task" in report and "Paired comparisons per group" in report


def test_a_second_run_generates_and_extracts_nothing(run):
    spec, store, summary, _ = run
    again = run_spec(str(spec), store)
    assert again["counts"]["features_extracted"] == 0 and again["counts"]["images_generated"] == 0
    assert [m["value"] for m in again["metrics"]] == [m["value"] for m in summary["metrics"]]


def test_prompts_without_metadata_stop_before_anything_is_written(run, tmp_path, tiny_models):
    _, _, _, models = run
    spec = compositional_spec(tmp_path, tiny_models, models)
    data = yaml.safe_load(spec.read_text())
    (tmp_path / "prompts.txt").write_text("a photo of a bench\na unicorn reading a newspaper\n")
    data["prompts"] = {"source": "file", "path": "prompts.txt"}
    spec.write_text(yaml.safe_dump(data))
    with pytest.raises(BadInput, match="prompt 'a unicorn reading a newspaper' has no GenEval metadata"):
        run_spec(str(spec), str(tmp_path / "store"))
    assert not list((tmp_path / "store").rglob("*.png"))


def test_a_vlm_folder_without_processor_stops_before_anything_is_written(run, tmp_path, tiny_models):
    import shutil

    _, _, _, models = run
    bare = tmp_path / "bare-vlm"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(models["vlm"] / name, bare / name)
    spec = compositional_spec(tmp_path, tiny_models, {**models, "vlm": bare})
    with pytest.raises(BadInput, match=r"metrics.vqascore.model '.*bare-vlm': folder has no processor"):
        run_spec(str(spec), str(tmp_path / "store"))
    assert not list((tmp_path / "store").rglob("*.png"))
