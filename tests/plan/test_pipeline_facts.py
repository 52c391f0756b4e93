"""Planning without importing diffusers gives the same generation keys as asking diffusers directly."""

import hashlib
import inspect
from pathlib import Path

import pytest
import yaml

from artifacts.keys import key_of
from artifacts.store import Store
from flows.demo import DEMO_CLASSES, class_conditional_spec, image_to_image_spec, text_to_image_spec
from tasks.inputs.classes import pipeline_labels, words_to_ids
from tasks.models.resolve import scheduler_config
from tasks.models.facts import FACTS_DIR
from tasks.plan.keys import PIXEL_SETTINGS
from tasks.plan.prepare import prepare
from tasks.inputs.references import procedural_reference_set

# sha256 of the sorted generation keys of each demo spec on the tiny models. The tiny models are the same
# bytes on any torch / diffusers / transformers (tasks/demo/weights.py), so these hold on every machine.
RECORDED_KEYS = {
    "demo-text-to-image": (100, "c1061cb5f966d0cc3707e81871be2b52a333983a844ebabd5fdab350835c2eea"),
    "demo-image-to-image": (48, "37cbf4ca6a1f93dfc65651bb54ea14a4011d7dd66939baa770812cad70a8e4f7"),
    "demo-class-conditional": (80, "05f6637d301c1225169898261db856bcd35e2f9996d48e216337176e2ce3ebb4"),
}


@pytest.fixture(scope="module")
def demo_specs(tiny_models, tmp_path_factory) -> dict[str, Path]:
    """The three demo specs on the session's tiny models, on CPU (the device type is in the key)."""
    folder = tmp_path_factory.mktemp("demo-specs")
    references = procedural_reference_set(folder / "refs", per_class=2, names=DEMO_CLASSES)
    paths = {}
    for spec in (text_to_image_spec(tiny_models), image_to_image_spec(tiny_models), class_conditional_spec(tiny_models, references)):
        spec["generation"] = {**spec["generation"], "device": "cpu"}
        paths[spec["name"]] = folder / f"{spec['name']}.yaml"
        paths[spec["name"]].write_text(yaml.safe_dump(spec))
    return paths


def eager_keys(prepared) -> set[str]:
    """The keys as planning made them when it asked diffusers itself (the reference for the cached path)."""
    import diffusers

    keys = set()
    for v in prepared.variants:
        gen, model = v.settings, prepared.models[v.model]
        takes = inspect.signature(getattr(diffusers, v.pipeline).__call__).parameters
        params = {"model": model.fingerprint, "pipeline": v.pipeline, "scheduler": scheduler_config(model.local_dir, gen.scheduler),
                  "dtype": v.dtype, "device_type": v.device.split(":")[0],
                  **{name: getattr(gen, name) for name in PIXEL_SETTINGS if name in takes or name == "steps"}}
        for c in prepared.conditions:
            keys |= {key_of({**params, "condition": c.inputs, "seed": seed, "sample_index": sample})
                     for seed in gen.seeds for sample in range(gen.images_per_prompt)}
    return keys


def _keys(prepared) -> set[str]:
    return {i.key for i in prepared.items}


def test_keys_from_stored_facts_equal_keys_from_diffusers(demo_specs, tmp_path):
    store = Store(tmp_path / "store")
    for name, path in demo_specs.items():
        worked_out = prepare(path, store)  # the first prepare asks diffusers and keeps the answers
        assert list((tmp_path / "store" / FACTS_DIR).rglob("*.json")), name
        read_back = prepare(path, store)  # the second reads them back from JSON
        assert _keys(worked_out) == _keys(read_back) == eager_keys(worked_out), name


def test_generation_keys_of_the_demo_specs_are_unchanged(demo_specs, tmp_path):
    for name, path in demo_specs.items():
        keys = sorted(_keys(prepare(path, Store(tmp_path / name))))
        assert (len(keys), hashlib.sha256("\n".join(keys).encode()).hexdigest()) == RECORDED_KEYS[name], name


def test_a_corrupt_fact_is_worked_out_again(demo_specs, tmp_path):
    store = Store(tmp_path / "store")
    first = prepare(demo_specs["demo-class-conditional"], store)
    facts = sorted((tmp_path / "store" / FACTS_DIR).rglob("*.json"))
    assert facts
    for path in facts:
        path.write_text("{not json")
    assert _keys(prepare(demo_specs["demo-class-conditional"], store)) == _keys(first)


def test_bad_input_keeps_no_facts(demo_specs, tmp_path):
    spec = yaml.safe_load(demo_specs["demo-class-conditional"].read_text())
    spec["models"][0]["scheduler"] = "NoSuchScheduler"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    from artifacts.errors import BadInput

    with pytest.raises(BadInput, match="scheduler 'NoSuchScheduler'"):
        prepare(path, Store(tmp_path / "store"))
    assert not (tmp_path / "store" / FACTS_DIR).exists()


def test_label_words_map_to_the_ids_dit_pipeline_gives(tiny_models):
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(tiny_models["dit"])
    labels = pipeline_labels(str(tiny_models["dit"]))
    assert labels == dict(sorted(pipe.labels.items()))
    assert words_to_ids(DEMO_CLASSES, labels) == pipe.get_label_ids(DEMO_CLASSES)
