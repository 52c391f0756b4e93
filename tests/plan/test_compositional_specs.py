"""GenEval's and VQAScore's spec keys: upstream's defaults, one-line errors, models resolved from folders."""

from __future__ import annotations

import pytest

from artifacts.errors import BadInput
from tasks.demo.tiny_compositional import build_compositional_models
from tasks.plan.prepare import resolve_metric_models
from tasks.spec import spec_from_dict


def spec(metrics: dict):
    return spec_from_dict({"name": "s", "models": [{"name": "m", "path": "x/y"}], "metrics": metrics})


def test_defaults_are_upstreams():
    m = spec({"geneval": {}, "vqascore": {}}).metrics
    assert (m.geneval.model, m.geneval.clip_model) == ("facebook/mask2former-swin-small-coco-instance", "openai/clip-vit-large-patch14")
    assert (m.geneval.threshold, m.geneval.counting_threshold, m.geneval.max_objects, m.geneval.max_overlap,
            m.geneval.position_threshold, m.geneval.max_per_image) == (0.3, 0.9, 16, 1.0, 0.1, 100)
    assert (m.vqascore.model, m.vqascore.answer, m.vqascore.dtype) == ("Qwen/Qwen2.5-VL-7B-Instruct", "Yes", "bfloat16")
    assert m.vqascore.question == 'Does this figure show "{}"? Please answer Yes or No.'


@pytest.mark.parametrize("metrics,message", [
    ({"geneval": {"threshold": 1.5}}, "metrics.geneval.threshold"),
    ({"vqascore": {"dtype": "int8"}}, "metrics.vqascore.dtype"),
    ({"vqascore": {"prompt": "x"}}, "unknown key 'metrics.vqascore.prompt'"),
])
def test_bad_settings_are_one_line_naming_the_key(metrics, message):
    with pytest.raises(BadInput, match=message):
        spec(metrics)


def test_models_resolve_from_folders(tmp_path_factory, tiny_models):
    models = build_compositional_models(tmp_path_factory.getbasetemp() / "compositional")
    s = spec({"geneval": {"model": str(models["mask2former"]), "clip_model": str(tiny_models["clip"])},
              "vqascore": {"model": str(models["vlm"])}})
    resolved = resolve_metric_models(s)
    assert {k: v.local_dir for k, v in resolved.items() if k.startswith(("geneval", "vqascore"))} == {
        "geneval": str(models["mask2former"]), "geneval.clip_model": str(tiny_models["clip"]), "vqascore": str(models["vlm"])}
