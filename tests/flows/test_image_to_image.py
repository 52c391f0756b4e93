"""Image-conditioned runs end to end: edit pairs, directional similarity, sweeps, inspect pairs, errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from artifacts import inspect
from artifacts.store import Store
from flows.app.cli import main, run_spec
from tasks.metrics.directional import directional_similarity, image_consistency

pytestmark = pytest.mark.usefixtures("prefect_harness")


def edit_spec(folder: Path, tiny: dict, **overrides) -> Path:
    spec = {
        "name": "edit-test", "task": "image-to-image", "edits": {"source": "builtin", "limit": 3},
        "models": [{"name": "ip2p", "path": str(tiny["pix2pix"])},
                   {"name": "i2i", "path": str(tiny["img2img"]), "strength": 0.8}],
        "generation": {"steps": 2, "height": 64, "width": 64, "seeds": [0], "batch_size": 4, "dtype": "float32", "device": "cpu"},
        "sweep": {"guidance_scale": [1.5, 7.5], "image_guidance_scale": [1.0, 2.0]},
        "metrics": {"clip_directional_similarity": {"model": str(tiny["clip"])}, "clip_score": {"model": str(tiny["clip"])}},
    }
    spec.update(overrides)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def edit_run(tmp_path_factory, tiny_models):
    folder = tmp_path_factory.mktemp("edits")
    spec = edit_spec(folder, tiny_models)
    return folder, spec, run_spec(str(spec), str(folder / "store"))


def test_edit_run_counts_metrics_and_comparisons(edit_run):
    _, _, summary = edit_run
    # ip2p: 3 edits x 4 cells; img2img ignores image_guidance_scale, so its 4 cells share 2 x 3 images
    assert summary["counts"]["images_planned"] == 12 + 6 and summary["counts"]["images_generated"] == 18
    metrics = {(m["model"], m["metric"]) for m in summary["metrics"] if m["group"] == "all"}
    cell = "[guidance_scale=7.5,image_guidance_scale=2.0]"
    for name in ("ip2p", "i2i"):
        for metric in ("clip_directional_similarity", "clip_image_consistency", "clip_score"):
            assert (name + cell, metric) in metrics
    pairs = {(c["a"], c["b"], c["metric"]) for c in summary["comparisons"]}
    assert ("ip2p" + cell, "i2i" + cell, "clip_directional_similarity") in pairs


def test_per_pair_values_follow_the_definition(edit_run, tiny_models):
    from tasks.extractors.clip import images_to_clip_embeds, load_clip, png_to_uint8_chw, texts_to_clip_embeds
    from tasks.models.resolve import resolve_model

    folder, _, summary = edit_run
    rows = inspect.pairs(Store(folder / "store"), summary["run_id"])
    assert len(rows) == 24 and {"source", "edited", "input", "edit", "output", "clip_directional_similarity"} <= set(rows[0])
    clip = load_clip(resolve_model(str(tiny_models["clip"]), kind="clip"))
    src = images_to_clip_embeds(clip, [png_to_uint8_chw(Path(r["source"]).read_bytes()) for r in rows])
    out = images_to_clip_embeds(clip, [png_to_uint8_chw(Path(r["edited"]).read_bytes()) for r in rows])
    t_in = texts_to_clip_embeds(clip, [r["input"] for r in rows], truncate="tokenizer")
    t_out = texts_to_clip_embeds(clip, [r["output"] for r in rows], truncate="tokenizer")
    assert np.allclose([r["clip_directional_similarity"] for r in rows], directional_similarity(src, out, t_in, t_out), atol=1e-5)
    assert np.allclose([r["clip_image_consistency"] for r in rows], image_consistency(src, out), atol=1e-5)
    assert Image.open(rows[0]["source"]).size == (64, 64)


def test_report_has_source_column_and_trade_off_heatmaps(edit_run):
    _, _, summary = edit_run
    report = Path(summary["report"])
    html = report.read_text()
    assert "<th>source</th>" in html and "Edit strength against fidelity" in html
    heatmaps = sorted(p.name for p in report.parent.glob("heatmap-*.png"))
    assert heatmaps == sorted(f"heatmap-{m}-{k}.png" for m in ("ip2p", "i2i") for k in ("clip_directional_similarity", "clip_image_consistency"))
    assert Image.open(report.parent / heatmaps[0]).size[0] > 200


def test_second_run_does_nothing_new(edit_run):
    folder, spec, _ = edit_run
    again = run_spec(str(spec), str(folder / "store"))
    assert again["counts"]["images_generated"] == 0 and again["counts"]["features_extracted"] == 0


@pytest.mark.parametrize("case, fragment", [
    ("missing image", "missing.png"),
    ("missing caption column", "column 'output' missing"),
    ("empty edit set", "empty"),
    ("no image pipeline", "takes no image= argument"),
])
def test_bad_edit_input_is_one_line(case, fragment, tmp_path, tiny_models, capsys):
    table = tmp_path / "edits.csv"
    Image.new("RGB", (32, 32), (255, 0, 0)).save(tmp_path / "red.png")
    rows = {"missing image": "image,input,edit,output\nmissing.png,a,b,c\n",
            "missing caption column": "image,input,edit\nred.png,a,b\n",
            "empty edit set": "image,input,edit,output\n",
            "no image pipeline": "image,input,edit,output\nred.png,a red square,make it blue,a blue square\n"}
    table.write_text(rows[case])
    models = [{"name": "sd", "path": str(tiny_models["sd-a"])}] if case == "no image pipeline" else None
    spec = edit_spec(tmp_path, tiny_models, edits={"source": "file", "path": "edits.csv"}, **({"models": models} if models else {}))
    rc = main(["run", str(spec), "--store", str(tmp_path / "store")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and fragment in lines[0], lines


def test_pix2pix_zero_edits_through_inversion(tmp_path, tiny_models):
    spec = edit_spec(tmp_path, tiny_models, sweep={}, edits={"source": "builtin", "limit": 2},
                     models=[{"name": "zero", "path": str(tiny_models["sd-a"]), "pipeline": "StableDiffusionPix2PixZeroPipeline",
                              "scheduler": "DDIMScheduler"}])
    summary = run_spec(str(spec), str(tmp_path / "store"))
    assert summary["counts"]["images_generated"] == 2
    rows = inspect.pairs(Store(tmp_path / "store"), summary["run_id"])
    assert all(np.isfinite(r["clip_directional_similarity"]) for r in rows)
    assert json.loads(json.dumps(summary["metrics"]))  # plain JSON all the way down
