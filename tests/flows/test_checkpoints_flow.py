"""A checkpoints folder through the flow: a nightly over a growing folder makes only the new steps; a step
that fails to load is one line and the steps before it stay; the report has the curve and best-step table."""

from __future__ import annotations

from pathlib import Path

import pytest

from artifacts.errors import BadInput
from artifacts.store import Store
from flows.evaluate import evaluate
from tasks.demo.tiny_checkpoints import build_tiny_checkpoints, build_tiny_run
from tests.flows.cli_runs import generation_counts
from tests.models.test_checkpoints import write_spec

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]  # ~35 s each on 2 busy cores


def _images_by_variant(store: Store) -> dict[str, list[str]]:
    from artifacts import tables

    rows = tables.latest_by(tables.read(store, tables.GENERATIONS), "key").values()
    out: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r["condition_id"], r["seed"])):
        out.setdefault(row["variant"], []).append(row["sha256"])
    return out


def test_growing_folder_generates_only_new_steps(tiny_models, tmp_path):
    paths = build_tiny_run(tmp_path / "train", "unet", (100, 200))
    spec = write_spec(tmp_path, [{"name": "run", "checkpoints": str(paths["run"]), "base": str(paths["base"])},
                                 {"name": "pipe", "checkpoints": "pipe-run"}], tiny_models["clip"])
    build_tiny_checkpoints(tmp_path / "pipe-run", paths["base"], "pipeline", (100,))
    store = str(tmp_path / "store")
    first = evaluate(str(spec), store)
    assert first["counts"]["images_generated"] == 6  # 3 steps x 2 prompts
    build_tiny_checkpoints(paths["run"], paths["base"], "unet", (300,))  # training went on overnight
    second = evaluate(str(spec), store)
    assert second["counts"]["images_generated"] == 2 and second["counts"]["images_reused"] == 6
    assert all(n == 1 for n in generation_counts(Store(store)).values())
    images = _images_by_variant(Store(store))
    # The same UNet weights as a UNet-only step on the base and as a whole pipeline: the same pixels.
    assert images["run[train_step=100]"] == images["pipe[train_step=100]"]
    best = {r["model"]: r for r in second["best_steps"]}
    assert best["run"]["latest_step"] == 300 and best["run"]["best_step"] in (100, 200, 300)
    assert (best["pipe"]["best_step"], best["pipe"]["latest_step"]) == (100, 100)
    report = Path(second["report"]).read_text()
    assert "Which checkpoint is best" in report and "clip_score against training step" in report


def test_step_that_fails_to_load_keeps_the_finished_steps(tiny_models, tmp_path):
    paths = build_tiny_run(tmp_path / "train", "unet", (100, 200, 300))
    weights = next((paths["run"] / "checkpoint-300" / "unet").glob("*.safetensors"))
    good = weights.read_bytes()
    weights.write_bytes(good[:1000])
    spec = write_spec(tmp_path, [{"name": "run", "checkpoints": str(paths["run"]), "base": str(paths["base"])}], tiny_models["clip"])
    store = str(tmp_path / "store")
    with pytest.raises(BadInput, match=r"checkpoint-300 failed to load .*; fix or remove that folder"):
        evaluate(str(spec), store)
    assert sorted(_images_by_variant(Store(store))) == ["run[train_step=100]", "run[train_step=200]"]
    weights.write_bytes(good)
    again = evaluate(str(spec), store)
    assert again["counts"]["images_generated"] == 2  # only the step that failed
