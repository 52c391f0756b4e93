"""Class-conditioned runs end to end: FID/KID/IS equal torchmetrics on the same PNGs and weights."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from artifacts import inspect
from artifacts.runfiles import read_run_table
from artifacts.store import Store
from flows.app.cli import main, run_spec
from tasks.inputs.references import procedural_reference_set
from tests.reporting.test_report_browser import WIDTH, open_report

pytestmark = pytest.mark.usefixtures("prefect_harness")
LABELS = ["tench", "goldfish", "church"]


def dit_spec(folder: Path, tiny: dict, **overrides) -> Path:
    refs = folder / "refs"
    if not refs.exists():
        procedural_reference_set(refs, per_class=3, size=32, names=LABELS + [f"zz-other-{i}" for i in range(7)])
    spec = {
        "name": "dit-test", "task": "class-conditional", "classes": {"words": LABELS, "images_per_class": 2},
        "models": [{"name": "dit", "path": str(tiny["dit"])}],
        "generation": {"steps": 2, "guidance_scale": 4.0, "seeds": [0], "batch_size": 6, "dtype": "float32", "device": "cpu"},
        "sweep": {"seeds": [0, 1]},
        "reference": {"path": "refs", "center_crop": None, "limit": 9},
        "metrics": {"fid": {}, "kid": {"subsets": 5, "subset_size": 4}, "is": {"splits": 2},
                    "inception_weights": str(tiny["inception"])},
    }
    spec.update(overrides)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def dit_run(tmp_path_factory, tiny_models):
    folder = tmp_path_factory.mktemp("dit")
    spec = dit_spec(folder, tiny_models)
    return folder, spec, run_spec(str(spec), str(folder / "store"))


def _uint8(paths: list[str]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB")).copy()).permute(2, 0, 1) for p in paths])


def test_metrics_equal_torchmetrics_on_the_same_pngs(dit_run, tiny_models):
    from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
    from torchmetrics.image.inception import InceptionScore
    from torchmetrics.image.kid import KernelInceptionDistance

    folder, _, summary = dit_run
    weights = str(tiny_models["inception"])
    store = Store(folder / "store")
    reals = sorted(str(p) for p in (folder / "refs").rglob("*.png"))[:9]
    cell = "dit[seeds=0]"
    fakes = [r["path"] for r in inspect.images(store, summary["run_id"]) if r["model"] == cell]
    assert len(fakes) == 6
    real, fake = _uint8(reals), _uint8(fakes)
    ours = {m["metric"]: m["value"] for m in summary["metrics"] if m["model"] == cell and m["group"] == "all"}

    fid = FrechetInceptionDistance(feature=NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=weights))
    fid.update(real, real=True)
    fid.update(fake, real=False)
    assert abs(ours["fid"] - fid.compute().item()) <= 1e-3 * abs(ours["fid"])

    kid = KernelInceptionDistance(feature=NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=weights),
                                  subsets=5, subset_size=4)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    torch.manual_seed(0)
    kid_mean, kid_std = kid.compute()
    assert abs(ours["kid"] - kid_mean.item()) <= max(1e-3 * abs(kid_mean.item()), 1e-3)
    assert abs(ours["kid_std"] - kid_std.item()) <= max(1e-3 * abs(kid_std.item()), 1e-3)

    inception = InceptionScore(feature=NoTrainInceptionV3(name="inception-v3-compat", features_list=["logits_unbiased"], feature_extractor_weights_path=weights), splits=2)
    inception.update(fake)
    torch.manual_seed(0)
    is_mean, _ = inception.compute()
    assert abs(ours["is"] - is_mean.item()) <= 1e-3 and ours["is"] > 1.0


def test_rows_carry_groups_record_and_sweep_summary(dit_run):
    _, _, summary = dit_run
    groups = {(m["metric"], m["group"]) for m in summary["metrics"]}
    assert {("fid", "all"), ("kid", "all"), ("kid_std", "all"), ("is", "all"), ("is_std", "all")} <= groups
    assert {("fid", "class:tench"), ("kid", "class:church")} <= groups
    row = next(m for m in summary["metrics"] if m["metric"] == "fid" and m["group"] == "all")
    assert row["record"]["n_real"] == 9 and row["record"]["n_fake"] == 6 and row["record"]["rank_deficient"]
    assert row["record"]["real_formats"] == ["png"] and row["record"]["inception"].startswith("inception-")
    # 6 images a variant, 2 a class: the spec's KID subset_size 4 fits `all` but is cut to 2 per class
    assert (row["record"]["kid_subset_size"], row["record"]["is_splits"], row["record"]["reduced"]) == (4, 2, [])
    per_class = next(m for m in summary["metrics"] if m["metric"] == "kid" and m["group"] == "class:tench")
    assert per_class["record"]["kid_subset_size"] == 2 and per_class["record"]["reduced"] == ["kid subset_size 4 -> 2"]
    assert "is_splits" not in per_class["record"]  # no IS per class
    report = Path(summary["report"]).read_text()
    assert "Mean ± sd over seeds" in report and "rank-deficient" in report


def test_per_class_sets_on_too_few_images_are_flagged_kept_and_left_out_of_the_report(dit_run, tmp_path):
    folder, _, summary = dit_run
    rows = read_run_table(Store(folder / "store"), summary["run_id"], "metrics")
    assert {r["below_min_images"] for r in rows if r["group"].startswith("class:")} == {True}  # 2 images a class < 50
    assert not any(r["below_min_images"] for r in rows if r["group"] == "all")
    page = Path(summary["report"]).read_text()
    assert "class:tench</td>" not in page and "were cut to fit small sets" not in page  # the cut KID of hidden classes too
    assert "3 group(s) (class:church, class:goldfish, class:tench) left out of the per-group fid, kid, kid_std: fewer than 50" in page
    assert page.index("At a glance") < page.index("<h2>Plots</h2>") < page.index("<h2>Tables</h2>")
    seen = open_report(summary["report"], tmp_path)
    assert seen["missing"] == [] and seen["scroll_width"] <= WIDTH and seen["images"] > 6


def test_min_group_images_from_the_spec_shows_the_classes_it_allows(dit_run, tiny_models):
    folder, _, _ = dit_run
    metrics = {"fid": {}, "kid": {"subsets": 5, "subset_size": 4}, "is": {"splits": 2},
               "inception_weights": str(tiny_models["inception"]), "min_group_images": 2}
    summary = run_spec(str(dit_spec(folder, tiny_models, name="dit-min-2", metrics=metrics)), str(folder / "store"))
    assert summary["counts"]["images_generated"] == 0
    page = Path(summary["report"]).read_text()
    assert "class:tench</td>" in page and "were cut to fit small sets" in page and "left out of the per-group" not in page


def test_second_run_and_another_spec_reuse_every_feature(dit_run, tiny_models, tmp_path):
    folder, spec, _ = dit_run
    again = run_spec(str(spec), str(folder / "store"))
    assert again["counts"]["images_generated"] == 0 and again["counts"]["features_extracted"] == 0
    other = dit_spec(folder, tiny_models, name="dit-other", sweep={"seeds": [2]})
    summary = run_spec(str(other), str(folder / "store"))
    assert summary["counts"]["images_generated"] == 6
    assert summary["counts"]["features_extracted"] == 6 and summary["counts"]["features_reused"] == 9  # references reused


@pytest.mark.parametrize("change, fragment", [
    ({"classes": {"words": ["goldfsh"]}}, "unknown label 'goldfsh'; closest labels: goldfish"),
    ({"reference": {"path": "empty"}}, "reference: no images"),
    ({"reference": {"path": "broken"}}, "cannot read image"),
    ({"metrics": {"fid": {}, "inception_weights": "missing.pth"}}, "missing.pth: file not found"),
    ({"reference": {"path": "refs", "center_crop": 256, "small": "error"}}, "256"),
])
def test_bad_class_conditional_input_is_one_line(change, fragment, tmp_path, tiny_models, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"\x89PNG not really")
    spec = dit_spec(tmp_path, tiny_models)
    data = yaml.safe_load(spec.read_text())
    data.update(change)
    spec.write_text(yaml.safe_dump(data))
    rc = main(["run", str(spec), "--store", str(tmp_path / "store")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and fragment in lines[0], lines
