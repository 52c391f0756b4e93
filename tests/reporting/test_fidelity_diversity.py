"""The fidelity-against-diversity plot: one per model, from `<quantity>_<extractor>` rows only."""

from tasks.values.units import Variant
from tasks.reporting.fidelity_diversity import fidelity_diversity_imgs, fidelity_diversity_png, prdc_points


def _variant(variant_id: str, model: str) -> Variant:
    return Variant(variant_id, model, 0, {}, None, "StableDiffusionPipeline", "cpu", "float32", ())


def test_points_per_variant_and_extractor_and_one_plot_per_model():
    rows = [{"model": v, "metric": f"{q}_{e}", "group": g, "value": x}
            for v in ("a", "b") for e in ("inception", "dinov2") for q, x in
            (("precision", 0.5), ("recall", 0.4), ("density", 0.9), ("coverage", 0.3)) for g in ("all", "class:x")]
    rows.append({"model": "a", "metric": "fid", "group": "all", "value": 10.0})
    points = prdc_points(rows)
    assert set(points) == {("a", "inception"), ("a", "dinov2"), ("b", "inception"), ("b", "dinov2")}
    assert points[("a", "dinov2")] == {"precision": 0.5, "recall": 0.4, "density": 0.9, "coverage": 0.3}
    variants = [_variant("a", "m1"), _variant("b", "m2")]
    assert fidelity_diversity_png(rows, variants, "m1").startswith(b"\x89PNG")
    assert len(fidelity_diversity_imgs(rows, variants)) == 2
    assert fidelity_diversity_imgs([r for r in rows if r["metric"] == "fid"], variants) == []
