"""The newer metrics' spec keys: validated at the edge, their models resolved like CLIP's."""

from __future__ import annotations

import pytest

from artifacts.errors import BadInput
from tasks.plan.prepare import resolve_metric_models
from tasks.spec import spec_from_dict


def spec(metrics: dict, reference: bool = True):
    data = {"name": "s", "models": [{"name": "m", "path": "x/y"}], "metrics": metrics}
    return spec_from_dict({**data, "reference": {"path": "refs"}} if reference else data)


def test_defaults_are_the_papers_models_and_estimator():
    m = spec({"fd_dinov2": {}, "cmmd": {}, "pickscore": {}, "hpsv2": {}}).metrics
    assert (m.fd_dinov2.model, m.cmmd.model, m.cmmd.estimator, m.cmmd.sigma) == (
        "facebook/dinov2-large", "openai/clip-vit-large-patch14-336", "biased", 10.0)
    assert (m.pickscore.model, m.pickscore.processor) == ("yuvalkirstain/PickScore_v1", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K")
    assert (m.hpsv2.model, m.hpsv2.arch) == ("xswu/HPSv2", "ViT-H-14")


@pytest.mark.parametrize("metrics,message", [
    ({"cmmd": {}}, "need a reference"),
    ({"fd_dinov2": {}}, "need a reference"),
    ({"cmmd": {"estimator": "mle"}}, "metrics.cmmd.estimator"),
    ({"pickscore": {"batch": 3}}, "unknown key 'metrics.pickscore.batch'"),
])
def test_bad_settings_are_one_line_naming_the_key(metrics, message):
    with pytest.raises(BadInput, match=message):
        spec(metrics, reference="estimator" in str(metrics))


def test_models_resolve_from_folders_with_a_separate_processor(metric_models, tiny_models, tmp_path):
    s = spec({"fd_dinov2": {"model": str(metric_models["dinov2"])}, "cmmd": {"model": str(metric_models["cmmd-clip"])},
              "pickscore": {"model": str(metric_models["pickscore"]), "processor": str(tiny_models["clip"])},
              "hpsv2": {"model": str(metric_models["hpsv2"])}})
    resolved = resolve_metric_models(s)
    assert set(resolved) == {"fd_dinov2", "cmmd", "pickscore", "pickscore.processor", "hpsv2"}
    assert resolved["pickscore.processor"].local_dir == str(tiny_models["clip"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="metrics.hpsv2.model .*no open_clip_config.json"):
        resolve_metric_models(spec({"hpsv2": {"model": str(tmp_path / "empty")}}))
