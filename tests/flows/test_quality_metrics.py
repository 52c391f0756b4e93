"""Precision/recall/density/coverage, the aesthetic score and text rendering in a run: enabled from the spec,
cached, recorded, reported, and equal to their formulas on the cached features."""

from pathlib import Path

import numpy as np
import pytest

from artifacts import inspect
from artifacts.store import Store
from flows.app.cli import run_spec
from tasks.demo.tiny_quality_models import HEAD_FILES, build_quality_models
from artifacts.features import read_features
from tasks.inputs.references import procedural_reference_set
from tasks.metrics.prdc import features_to_prdc
from tests.flows.helpers import t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")
PROMPTS = ['a sign that says "Hello World"', "a storefront with 'Deep Learning' written on it", "a photo of a cat"]
PRDC = [f"{q}_{e}" for e in ("inception", "dinov2") for q in ("precision", "recall", "density", "coverage")]


def quality_metrics(tiny: dict, metric_models: dict, quality: dict) -> dict:
    return {"prdc": {}, "prdc_dinov2": {"model": str(metric_models["dinov2"])}, "inception_weights": str(tiny["inception"]),
            "aesthetic": {"model": str(quality["aesthetic-clip"]), "checkpoint": str(quality["aesthetic-heads"] / HEAD_FILES["mlp"])},
            "text_rendering": {"model": str(quality["trocr"]), "max_new_tokens": 8}}


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_models, metric_models):
    folder = tmp_path_factory.mktemp("quality-metrics")
    quality = build_quality_models(folder / "models")
    procedural_reference_set(folder / "refs", per_class=1, size=32)
    spec = t2i_spec(folder, tiny_models, PROMPTS, generation={"seeds": [0, 1]}, reference={"path": "refs", "center_crop": None},
                    metrics=quality_metrics(tiny_models, metric_models, quality))
    return spec, str(folder / "store"), run_spec(str(spec), str(folder / "store"))


def test_prdc_rows_per_extractor_equal_the_formula_on_cached_features(run):
    _, store, summary = run
    rows = {(m["model"], m["metric"]): m for m in summary["metrics"] if m["group"] == "all"}
    images = inspect.images(Store(store), summary["run_id"])
    generated = {r["sha256"] for r in images}
    for extractor, column in (("inception", "pool"), ("dinov2", "cls")):
        row = rows[("a", f"precision_{extractor}")]
        assert row["record"]["extractor"].startswith("inception" if extractor == "inception" else "dinov2")
        assert row["record"]["prdc_" + extractor + "_nearest_k"] == 3 and row["record"]["prdc_" + extractor + "_density_k"] == 5
        features = read_features(Store(store), row["record"]["extractor"])
        mine = sorted({r["sha256"] for r in images if r["model"] == "a"})
        real = [sha for sha in features.index if sha not in generated]
        expected = features_to_prdc(features.take(real)[column], features.take(mine)[column])
        for quantity, value in expected.items():
            assert rows[("a", f"{quantity}_{extractor}")]["value"] == pytest.approx(value, abs=1e-12)
    assert all(np.isfinite(rows[(m, name)]["value"]) for m in "ab" for name in PRDC)


def test_aesthetic_and_text_rows_and_the_report(run):
    _, _, summary = run
    rows = {(m["model"], m["metric"]): m for m in summary["metrics"] if m["group"] == "all"}
    assert rows[("a", "aesthetic_mlp")]["n"] == 3 and ("a", "aesthetic_linear") not in rows
    for metric in ("text_edit_distance", "text_completion_rate", "text_word_accuracy"):
        assert rows[("a", metric)]["n"] == 2  # the cat prompt asks for no text: left out
        assert rows[("a", metric)]["n_images"] == 4
    report = Path(summary["report"]).read_text()
    assert "Fidelity against diversity" in report and "Text rendering" in report and "Aesthetic predictor" in report
    assert "2 prompt(s) ask for text (quoted strings); 1 without text left out" in report
    assert "aesthetic-mlp.pth" in report


def test_a_second_run_extracts_nothing(run):
    spec, store, summary = run
    again = run_spec(str(spec), store)
    assert again["counts"]["features_extracted"] == 0 and again["counts"]["images_generated"] == 0
    assert [m["value"] for m in again["metrics"]] == [m["value"] for m in summary["metrics"]]
