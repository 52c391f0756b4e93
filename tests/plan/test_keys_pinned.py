"""Keys and fingerprints do not move: the plan of three fixed specs gives the keys, extractor fingerprints and
content hashes the code before the reshape gave (pinned_keys.json), so every image and feature an older store
holds is found again. tests/flows/test_old_store_reused.py runs the older code itself against a store."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from artifacts.runfiles import read_run_table, write_run_table
from artifacts.store import Store
from tasks.extractors.clip import clip_extractors
from tasks.extractors.inception import inception_extractor, spec_preprocess, spec_weights
from tasks.models.resolve import resolve_model
from tasks.plan.prepare import prepare
from tasks.values.units import Condition, Item, Variant
from tests.plan.pinned_specs import SPECS, write_spec

PINNED = json.loads((Path(__file__).parent / "pinned_keys.json").read_text())


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_models):
    root = tmp_path_factory.mktemp("pinned")
    return {name: prepare(write_spec(root / name, make(tiny_models)), Store(root / name / "store")) for name, make in SPECS.items()}


def test_the_tiny_models_are_the_pinned_build(tiny_models):
    # Not the subject, but the premise: a different build (another torch) would move every key below.
    got = {name: resolve_model(str(tiny_models[name]), kind="clip" if name == "clip" else "diffusers").fingerprint
           for name in PINNED["models"]}
    assert got == PINNED["models"]


@pytest.mark.parametrize("name", list(SPECS))
def test_generation_keys_and_variant_ids_are_pinned(prepared, name):
    plan = prepared[name]
    assert [v.variant_id for v in plan.variants] == PINNED[name]["variants"]
    assert [i.key for i in plan.items] == PINNED[name]["keys"]


@pytest.mark.parametrize("name", list(SPECS))
def test_extractor_fingerprints_and_content_hashes_are_pinned(prepared, name):
    plan, pinned = prepared[name], PINNED[name]
    for metric, resolved in plan.metric_models.items():
        fingerprints = [e.fingerprint for truncate in ("torchmetrics", "tokenizer")
                        for e in clip_extractors(resolved, "cpu", truncate=truncate)]
        assert fingerprints == pinned["fingerprints"][metric]
    if "inception" in pinned["fingerprints"]:
        extractor = inception_extractor(spec_weights(plan.spec), spec_preprocess(plan.spec), "cpu", {})
        assert extractor.fingerprint == pinned["fingerprints"]["inception"]
        assert [r["sha256"] for r in plan.references] == pinned["refs"]
    if "sources" in pinned:
        assert [c.meta["source_sha256"] for c in plan.conditions] == pinned["sources"]


def test_variants_say_which_settings_their_pipeline_ignores(prepared):
    ignored = {v.model: v.ignored for v in prepared["edit"].variants}
    # Both edit pipelines take their size from the source image; img2img also takes no image_guidance_scale.
    assert ignored == {"ip2p": ("height", "width"), "i2i": ("height", "width", "image_guidance_scale")}
    assert {v.ignored for v in prepared["t2i"].variants} == {()}


def test_units_round_trip_through_parquet_and_pickle(prepared, tmp_path):
    plan, store = prepared["edit"], Store(tmp_path)
    for cls, units in ((Condition, plan.conditions), (Variant, plan.variants), (Item, plan.items)):
        write_run_table(store, "r", cls.__name__, [u.to_row() for u in units])
        assert tuple(cls.from_row(row) for row in read_run_table(store, "r", cls.__name__)) == units
    batch = plan.batch(plan.variants[1], plan.items[3:5])
    assert pickle.loads(pickle.dumps(batch)) == batch
    assert {c.condition_id for c in batch.conditions} == {i.condition_id for i in batch.items}  # only what it needs
    assert batch.source_resize == "center-crop" and batch.model == plan.models[batch.variant.model]
