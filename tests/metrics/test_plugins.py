"""A metric from outside the repo: the README's plug-in example, run end to end from its own module."""

from __future__ import annotations

import re
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from artifacts import inspect
from artifacts.errors import BadInput
from artifacts.store import Store
from flows.app.cli import main, run_spec
from tasks.values import metric as registry
from tests.flows.helpers import t2i_spec

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> tuple[str, dict]:
    """The plug-in module and the spec's metrics section, as the README's "Your own metric" shows them."""
    section = README.read_text().split("## Your own metric", 1)[1].split("\n## ", 1)[0]
    python, spec = re.findall(r"```(?:python|yaml)\n(.*?)```", section, re.S)
    return python, yaml.safe_load(spec)["metrics"]


@pytest.fixture
def plugin_spec(tmp_path, tiny_models, monkeypatch):
    """The README's module written outside the repo, put on sys.path, and a tiny spec that lists it."""
    python, metrics = readme_example()
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "my_metrics.py").write_text(python)
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    monkeypatch.delitem(sys.modules, "my_metrics", raising=False)
    metrics = {**metrics, "clip_score": {"model": str(tiny_models["clip"])}}
    return t2i_spec(tmp_path, tiny_models, metrics=metrics)


@pytest.mark.usefixtures("prefect_harness")
def test_readme_plugin_metric_runs_end_to_end(plugin_spec, tmp_path):
    store = Store(tmp_path / "store")
    summary = run_spec(str(plugin_spec), str(store.root))
    rows = {(m["model"], m["group"]): m for m in summary["metrics"] if m["metric"] == "brightness"}
    assert set(rows) == {("a", "all"), ("b", "all")}
    # The value is the mean over prompts of 100 x the mean grey level of each image, from the PNGs themselves.
    for variant in ("a", "b"):
        paths = [r["path"] for r in inspect.images(store, summary["run_id"]) if r["model"] == variant]
        grey = [100 * np.asarray(Image.open(p).convert("L"), dtype=np.float64).mean() / 255 for p in paths]
        assert rows[(variant, "all")]["value"] == pytest.approx(np.mean(grey), rel=1e-6)
    assert any(c["metric"] == "brightness" for c in summary["comparisons"])
    assert {m["metric"] for m in summary["metrics"]} == {"clip_score", "brightness"}
    again = run_spec(str(plugin_spec), str(store.root))
    assert again["counts"]["images_generated"] == 0 and again["counts"]["features_extracted"] == 0


def test_a_missing_plugin_or_unknown_option_is_one_line(tmp_path, tiny_models, capsys):
    for metrics, fragment in (({"plugins": ["no_such_plugin_module"]}, "metrics.plugins: cannot import 'no_such_plugin_module'"),
                              ({"options": {"nope": {}}}, "metrics.options: no metric named nope")):
        spec = t2i_spec(tmp_path, tiny_models, metrics={"clip_score": {"model": str(tiny_models["clip"])}, **metrics})
        rc = main(["run", str(spec), "--store", str(tmp_path / "store")])
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert rc == 2 and len(lines) == 1 and fragment in lines[0], lines


def test_entry_point_plugins_register_and_switch_on_by_options(tmp_path, monkeypatch):
    (tmp_path / "ep_metric.py").write_text(
        "from tasks.values.metric import SampleMetric, register\n"
        "register(SampleMetric(name='ep_metric', better='lower', reference_test='none', jobs=lambda ctx: [], score=lambda ctx: []))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    point = EntryPoint(name="ep", value="ep_metric", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [point] if group == registry.ENTRY_POINT_GROUP else [])
    registry._load_entry_points.cache_clear()
    try:
        from tasks.spec import spec_from_dict

        base = {"name": "s", "models": [{"name": "a", "path": "CompVis/stable-diffusion-v1-4"}]}
        off = spec_from_dict(base)
        on = spec_from_dict({**base, "metrics": {"clip_score": {}, "options": {"ep_metric": {}}}})
        assert "ep_metric" not in [m.name for m in registry.enabled_metrics(off)]
        assert [m.name for m in registry.enabled_metrics(on)] == ["clip_score", "ep_metric"]
        assert registry.direction("ep_metric") == -1 and registry.direction("kid_std") == 0
        with pytest.raises(BadInput, match="the name is taken"):
            registry.register(registry.SampleMetric(name="clip_score", better="higher", reference_test="", jobs=lambda c: [],
                                                    score=lambda c: []))
    finally:
        registry._METRICS.pop("ep_metric", None)
        registry._load_entry_points.cache_clear()


def test_every_metric_names_its_reference_test():
    registry._load_builtin()
    root = README.parent
    for metric in registry._METRICS.values():
        if metric.module.startswith("tasks."):
            path, _, name = metric.reference_test.partition("::")
            assert (root / path).is_file() and f"def {name}(" in (root / path).read_text(), metric.name
