"""End to end under one Prefect test harness: caching, resumption, artifacts, report, inspect."""

import json
import re
from pathlib import Path

import pytest

from artifacts import inspect
from artifacts.store import Store, image_rel
from flows.app.cli import run_spec
from tests.flows.helpers import PROMPTS, t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, tiny_models):
    folder = tmp_path_factory.mktemp("t2i")
    spec = t2i_spec(folder, tiny_models)
    store = str(folder / "store")
    return spec, store, run_spec(str(spec), store)


def test_cold_run_generates_everything_and_reports(first_run):
    spec, store, summary = first_run
    assert summary["counts"] == {"images_planned": 6, "images_generated": 6, "images_reused": 0,
                                 "features_extracted": 6 + 3, "features_reused": 0}
    groups = {(m["model"], m["group"]) for m in summary["metrics"]}
    assert {("a", "all"), ("b", "all")} <= groups
    for row in summary["metrics"]:
        assert set(row) >= {"model", "metric", "group", "value", "ci_low", "ci_high", "n"}
        assert row["ci_low"] <= row["value"] + 1e-9 and row["value"] <= row["ci_high"] + 1e-9 or row["value"] == 0
    (cmp,) = summary["comparisons"]
    assert (cmp["a"], cmp["b"], cmp["metric"], cmp["n"]) == ("a", "b", "clip_score", 3)
    report = Path(summary["report"]).read_text()
    for src in re.findall(r"src='([^']+)'", report):  # plots are in the page (data:), sample images beside it
        assert src.startswith("data:image/png;base64,") or not src.startswith("/") and (Path(summary["report"]).parent / src).is_file()
    assert report.count("<img src='images/") == 6


def test_second_run_generates_and_extracts_nothing(first_run):
    spec, store, summary = first_run
    again = run_spec(str(spec), store)
    assert again["counts"]["images_generated"] == 0 and again["counts"]["features_extracted"] == 0
    assert again["counts"]["images_reused"] == 6 and again["counts"]["features_reused"] == 9
    assert [m["value"] for m in again["metrics"]] == [m["value"] for m in summary["metrics"]]
    # three prompts, under metrics.min_group_conditions (5): every change (all 0 here) is shown, not judged
    assert again["regressions"] and all(v["verdict"] == "not judged" and v["change"] == 0 for v in again["regressions"])
    assert again["verdict"] == "passed" and "nothing could be judged" in again["verdict_line"]


def test_changing_only_metrics_settings_generates_nothing(first_run, tiny_models, tmp_path):
    spec, store, _ = first_run
    changed = t2i_spec(tmp_path, tiny_models, metrics={"clip_score": {"model": str(tiny_models["clip"]), "batch_size": 2},
                                                         "bootstrap": 2000, "bootstrap_seed": 5})
    summary = run_spec(str(changed), store)
    assert summary["counts"]["images_generated"] == 0 and summary["counts"]["features_extracted"] == 0


def test_adding_a_prompt_and_a_model_generates_only_what_is_new(first_run, tiny_models, tmp_path):
    spec, store, _ = first_run
    grown = t2i_spec(tmp_path, tiny_models, prompts=PROMPTS + ["a yellow square"], names=("a", "b"),
                     models=[{"name": "a", "path": str(tiny_models["sd-a"])}, {"name": "b", "path": str(tiny_models["sd-b"])},
                             {"name": "c", "path": str(tiny_models["sd-a"]), "scheduler": "DPMSolverMultistepScheduler"}])
    summary = run_spec(str(grown), store)
    # new prompt × 2 old models + new model (different scheduler) × 4 prompts
    assert summary["counts"]["images_generated"] == 2 + 4
    assert summary["counts"]["features_extracted"] == 6 + 1
    assert len(summary["comparisons"]) == 3


def test_changed_png_is_detected_and_regenerated(first_run, caplog):
    spec, store, _ = first_run
    rows = inspect.images(Store(store), None)
    victim = Path(rows[0]["path"])
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    summary = run_spec(str(spec), store)
    assert summary["counts"]["images_generated"] == 1
    assert "checksum mismatch" in caplog.text
    assert Store(store).verify(image_rel(rows[0]["key"]), rows[0]["sha256"])


def test_inspect_readers(first_run):
    spec, store, summary = first_run
    s = Store(store)
    assert summary["run_id"] in [r["run_id"] for r in inspect.runs(s)]
    images = inspect.images(s, summary["run_id"])
    assert len(images) == 6 and all(Path(r["path"]).is_absolute() and Path(r["path"]).is_file() for r in images)
    assert set(images[0]) == {"key", "model", "prompt_id", "prompt", "seed", "sample_index", "path", "sha256"}
    scores = inspect.scores(s, summary["run_id"][:-1])  # a unique prefix (runs of one second share the first 20 characters)
    assert len(scores) == 6 and {"key", "model", "metric", "value"} <= set(scores[0])
    stored = inspect.metrics(s, summary["run_id"])
    assert [(m["model"], m["group"], m["value"]) for m in stored] == [(m["model"], m["group"], m["value"]) for m in summary["metrics"]]


def test_prefect_artifacts_are_published(first_run):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.evaluate import _artifact_key

    key = _artifact_key("t2i-test", str(Store(first_run[1]).root))

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"{key}-metrics", f"{key}-summary"])))

    import asyncio

    artifacts = asyncio.run(read())
    kinds = {a.key: a.type for a in artifacts}
    assert kinds == {f"{key}-metrics": "table", f"{key}-summary": "markdown"}
    summary_md = next(a for a in artifacts if a.key.endswith("summary")).data
    assert "report.html" in summary_md and "| a | b | clip_score |" in summary_md


def test_run_folder_holds_spec_tables_and_summary(first_run):
    _, store, summary = first_run
    folder = Path(store) / "runs" / summary["run_id"]
    for name in ("spec.yaml", "metrics.parquet", "scores.parquet", "comparisons.parquet", "items.parquet", "summary.json", "report.html"):
        assert (folder / name).is_file(), name
    assert json.loads((folder / "summary.json").read_text())["run_id"] == summary["run_id"]


def test_regression_against_the_previous_run_fails_the_run(first_run, tiny_models, tmp_path, capsys):
    from flows.app.cli import main

    _, store, _ = first_run
    # a negative tolerance demands an improvement, so the same images count as a regression
    # (every group judged: three prompts are under the default metrics.min_group_conditions)
    strict = t2i_spec(tmp_path, tiny_models, regression={"tolerance": {"clip_score": -1000.0}, "fail": True},
                      metrics={"min_group_conditions": 1})
    rc = main(["run", str(strict), "--store", store, "--json"])
    out = capsys.readouterr()
    assert rc == 1 and "regression against run" in out.err
    summary = json.loads(out.out)
    assert summary["previous_run"] and {v["verdict"] for v in summary["regressions"]} == {"regressed"}
    assert summary["counts"]["images_generated"] == 0
