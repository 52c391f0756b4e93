"""FD-DINOv2, CMMD, PickScore and HPS v2 in a run: enabled from the spec, cached, aggregated, recorded."""

from pathlib import Path

import numpy as np
import pytest

from artifacts import inspect
from artifacts.store import Store
from flows.app.cli import run_spec
from artifacts.features import read_features
from tasks.inputs.references import procedural_reference_set
from tasks.metrics.cmmd import embeddings_to_cmmd
from tests.flows.helpers import t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")
PROMPTS = ["a photo of a cat", "a castle on a hill", "a boat on the ocean"]


def new_metrics(models: dict) -> dict:
    return {"fd_dinov2": {"model": str(models["dinov2"])}, "cmmd": {"model": str(models["cmmd-clip"]), "estimator": "unbiased"},
            "pickscore": {"model": str(models["pickscore"]), "processor": None}, "hpsv2": {"model": str(models["hpsv2"])}}


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_models, metric_models):
    folder = tmp_path_factory.mktemp("new-metrics")
    procedural_reference_set(folder / "refs", per_class=1, size=32)
    spec = t2i_spec(folder, tiny_models, PROMPTS, generation={"seeds": [0, 1]},
                    reference={"path": "refs", "center_crop": None}, metrics=new_metrics(metric_models))
    return spec, str(folder / "store"), run_spec(str(spec), str(folder / "store"))


def test_each_new_metric_has_rows_for_each_model(run):
    _, _, summary = run
    rows = {(m["model"], m["metric"]): m for m in summary["metrics"] if m["group"] == "all"}
    for model in ("a", "b"):
        for metric in ("fd_dinov2", "cmmd", "pickscore", "hpsv2"):
            assert np.isfinite(rows[(model, metric)]["value"]), (model, metric)
        # Per-image scorers as CLIP score: per prompt first (over its 2 seeds), a bootstrap CI over the 3 prompts.
        for metric in ("pickscore", "hpsv2"):
            row = rows[(model, metric)]
            assert row["n"] == 3 and row["ci_low"] <= row["value"] <= row["ci_high"]
    compared = {c["metric"]: c for c in summary["comparisons"]}
    assert compared["pickscore"]["n"] == compared["hpsv2"]["n"] == 3  # paired on the same prompts


def test_set_rows_record_their_extractor_and_estimator_and_the_report_shows_them(run):
    _, _, summary = run
    sets = [m for m in summary["metrics"] if m["metric"] in ("fd_dinov2", "cmmd")]
    assert {m["record"]["extractor"].split("-")[0] for m in sets} == {"dinov2", "cmmd"}
    assert all(m["record"]["n_real"] == 10 and m["record"]["n_fake"] == 6 for m in sets)
    assert {m["record"]["cmmd_estimator"] for m in sets} == {"unbiased"}
    # Their own feature width decides rank deficiency (tiny DINOv2: 32-d, tiny CLIP: 16-d); no Inception entries.
    assert {(m["metric"], m["record"]["feature_dim"], m["record"]["rank_deficient"]) for m in sets} == {
        ("fd_dinov2", 32, True), ("cmmd", 16, True)}
    assert not any("inception" in m["record"] for m in sets)
    report = Path(summary["report"]).read_text()
    assert "How the set metrics were made" in report and "cmmd-clip-" in report and "dinov2-" in report


def test_cmmd_of_a_row_equals_the_formula_on_its_cached_embeddings(run):
    _, store, summary = run
    (row,) = [m for m in summary["metrics"] if m["metric"] == "cmmd" and m["model"] == "a" and m["group"] == "all"]
    features = read_features(Store(store), row["record"]["extractor"])
    images = inspect.images(Store(store), summary["run_id"])
    generated = {r["sha256"] for r in images}
    mine = sorted({r["sha256"] for r in images if r["model"] == "a"})
    real = [sha for sha in features.index if sha not in generated]
    assert len(real) == 10 and len(mine) == 6
    value = embeddings_to_cmmd(features.take(real)["embed"], features.take(mine)["embed"], estimator="unbiased")
    assert row["value"] == pytest.approx(value, rel=1e-9)


def test_a_second_run_extracts_nothing(run):
    spec, store, summary = run
    again = run_spec(str(spec), store)
    assert again["counts"]["features_extracted"] == 0 and again["counts"]["images_generated"] == 0
    assert [m["value"] for m in again["metrics"]] == [m["value"] for m in summary["metrics"]]
    # Each new metric is judged against the previous run, which way is better known.
    judged = {v["metric"] for v in again["regressions"]}
    assert judged >= {"fd_dinov2", "cmmd", "pickscore", "hpsv2"}
    # the same values: nothing moved; groups under metrics.min_group_conditions and set metrics with no CI are
    # shown, not judged
    assert all(v["verdict"] in ("unchanged", "not judged") and v["change"] == 0 for v in again["regressions"])
