"""The report's top: the verdict per metric (paired where there are pairs, metric rows otherwise) and the plots."""

import base64
import io
import math
import re

from PIL import Image

from tasks.values.metric import SampleMetric, register
from tasks.values.units import Variant
from tasks.reporting.glance import ALONE, CLEAR, NO_CI, TIED, glance_sections, headlines, plot_section, verdict_rows
from tasks.reporting.plots import forest_png
from tasks.spec import GenerationSpec

NAN = math.nan


def _variant(model: str, **cell) -> Variant:
    label = model + (f"[{','.join(f'{k}={v}' for k, v in cell.items())}]" if cell else "")
    return Variant(label, model, 0, cell, GenerationSpec(), "StableDiffusionPipeline", "cpu", "float32")


def _row(variant: Variant, metric: str, value: float, group: str = "all", low=NAN, high=NAN, n=10) -> dict:
    return {"model": variant.variant_id, "metric": metric, "group": group, "value": value, "ci_low": low, "ci_high": high, "n": n}


def _cmp(a: Variant, b: Variant, metric: str, diff: float, low: float, high: float, n=10) -> dict:
    return {"a": a.variant_id, "b": b.variant_id, "metric": metric, "diff": diff, "ci_low": low, "ci_high": high, "win_rate": 0.5, "n": n}


def test_paired_verdict_names_the_better_model_by_the_metrics_direction():
    a, b = _variant("a"), _variant("b")
    rows = verdict_rows([_row(a, "clip_score", 30.0), _row(b, "clip_score", 30.5), _row(a, "clip_directional_similarity", 0.2)],
                        [_cmp(a, b, "clip_score", -0.5, -1.0, 0.2), _cmp(a, b, "clip_directional_similarity", 0.3, 0.1, 0.5, 7)],
                        [a, b])
    clip, directional = rows
    # a − b = −0.5 on a higher-is-better metric: b leads by 0.5, the lead's CI is [−0.2, 1.0], which holds 0.
    assert (clip["ahead"], clip["behind"], clip["by"], clip["ci_low"], clip["ci_high"], clip["status"]) == ("b", "a", 0.5, -0.2, 1.0, TIED)
    assert (directional["ahead"], directional["status"], directional["n"], directional["from"]) == ("a", CLEAR, 7, "paired comparison")


def test_lower_is_better_flips_the_lead_and_its_ci():
    a, b = _variant("a"), _variant("b")
    # Not a real FID comparison (FID has no pairs); the paired rule must still read the direction from the registry.
    (row,) = verdict_rows([_row(a, "fid", 12.0)], [_cmp(a, b, "fid", 2.0, 1.0, 3.0)], [a, b])
    assert (row["better"], row["ahead"], row["by"], row["ci_low"], row["ci_high"], row["status"]) == ("lower", "b", 2.0, 1.0, 3.0, CLEAR)


def test_set_metrics_compare_models_per_sweep_cell_from_the_metric_rows():
    variants = [_variant(m, steps=s) for s in (2, 4) for m in ("a", "b")]
    metrics = [_row(v, "fid", value) for v, value in zip(variants, (10.0, 12.5, 9.0, 8.0))]
    metrics += [_row(v, "kid_std", 0.1) for v in variants]  # a spread, not a metric with a better side: no verdict
    rows = verdict_rows(metrics, [], variants)
    assert [(r["setting"], r["ahead"], r["behind"], r["by"], r["status"]) for r in rows] == [
        ("steps=2", "a", "b", 2.5, NO_CI), ("steps=4", "b", "a", 1.0, NO_CI)]
    assert headlines(rows) == ["fid (lower is better), a vs b over 2 settings: no CI in 2"]


def test_one_model_sweep_names_its_best_variant_and_one_variant_stands_alone():
    variants = [_variant("dit", seeds=s) for s in (0, 1, 2)]
    rows = verdict_rows([_row(v, "is", x, low=x - 0.1, high=x + 0.1) for v, x in zip(variants, (1.5, 2.0, 1.7))], [], variants)
    (row,) = rows
    assert (row["ahead"], row["behind"], row["setting"], row["status"]) == ("dit[seeds=1]", "dit[seeds=2]", "best variant", CLEAR)
    assert math.isclose(row["by"], 0.3)
    (alone,) = verdict_rows([_row(variants[0], "is", 1.5)], [], variants[:1])
    assert alone["status"] == ALONE and headlines([alone]) == ["is: only dit[seeds=0] to compare (n 10)"]


def test_a_registered_metric_shows_without_being_named():
    register(SampleMetric(name="glance_test_score", better="lower", reference_test="tests/reporting/test_glance.py",
                          jobs=lambda ctx: [], score=lambda ctx: []))
    a, b = _variant("a"), _variant("b")
    (row,) = verdict_rows([_row(a, "glance_test_score", 3.0), _row(b, "glance_test_score", 1.0)], [], [a, b])
    assert (row["metric"], row["better"], row["ahead"]) == ("glance_test_score", "lower", "b")
    assert "glance_test_score" in plot_section([_row(a, "glance_test_score", 3.0)], [a])


def _pngs(section: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data))) for data in re.findall(r"src='data:image/png;base64,([^']+)'", section)]


def test_plots_are_embedded_pngs_forest_sweep_and_heatmap():
    variants = [_variant(m, guidance_scale=g, steps=s) for m in ("a", "b") for g in (1.5, 7.5) for s in (2, 4)]
    groups = ["all"] + [f"category:c{i}" for i in range(30)]  # more groups than one forest plot shows
    metrics = [_row(v, "clip_score", 20.0 + i + j, g, 19.0 + i, 21.0 + i + j) for i, v in enumerate(variants) for j, g in enumerate(groups)]
    metrics += [_row(v, "fid", 100.0 - i) for i, v in enumerate(variants)]
    section = plot_section(metrics, variants)
    assert "src='data:image/png" in section and "src='heatmap" not in section
    images = _pngs(section)
    # forest x 2 metrics, metric against the swept settings x 2, heatmaps over guidance_scale x steps: 2 models x 2 metrics
    assert len(images) == 2 + 2 + 4 and all(im.width > 200 and im.height > 100 for im in images)
    assert "Heatmaps over guidance_scale x steps" in section
    assert max(im.width for im in images) <= 1280  # at 100 dpi: nothing wider than the page
    assert forest_png(metrics, "clip_score", 1)[1] == 31 - 100 // 8  # 8 variants: 12 groups drawn, the table has all


def test_no_sweep_no_sweep_plots_and_sections_come_in_order():
    a, b = _variant("a"), _variant("b")
    metrics = [_row(a, "clip_score", 30.0, low=29.0, high=31.0), _row(b, "clip_score", 31.0, low=30.0, high=32.0)]
    verdict, plots = glance_sections(metrics, [_cmp(a, b, "clip_score", -1.0, -1.5, -0.5)], [a, b], "Against baseline run r: passed.")
    assert len(_pngs(plots)) == 1 and "Against the swept settings" not in plots
    assert verdict.index("clip_score (higher is better): b ahead of a by 1.0000, 95% CI 0.5000 to 1.5000, n 10") < verdict.index("<table>")
    assert "Against baseline run r: passed." in verdict


def test_headlines_never_call_a_model_ahead_when_the_ci_holds_0():
    a, b = _variant("a"), _variant("b")
    rows = verdict_rows([_row(a, "clip_score", 30.0), _row(b, "clip_score", 30.5)], [_cmp(a, b, "clip_score", 0.5327, -0.2, 1.3)], [a, b])
    (line,) = headlines(rows)
    assert line == "clip_score (higher is better): a and b tied within CI (difference 0.5327, 95% CI -0.2000 to 1.3000 includes 0, n 10)"
    assert "ahead" not in line
    cells = [_variant(m, steps=s) for s in (2, 4, 8, 16) for m in ("a", "b")]
    comparisons = [_cmp(cells[2 * i], cells[2 * i + 1], "clip_score", 0.5, lo, hi) for i, (lo, hi) in
                   enumerate([(0.1, 0.9), (-0.1, 1.1), (-0.2, 1.2), (-0.3, 1.3)])]
    (line,) = headlines(verdict_rows([_row(cells[0], "clip_score", 30.0)], comparisons, cells))
    assert line == "clip_score (higher is better), a vs b over 4 settings: a ahead in 1, tied within CI in 3"


def test_the_table_says_a_b_and_their_signed_difference():
    a, b = _variant("a"), _variant("b")
    verdict, _ = glance_sections([_row(a, "clip_score", 30.0)], [_cmp(a, b, "clip_score", 0.5, -0.2, 1.2)], [a, b])
    assert "<th>a − b (+: a better)</th>" in verdict and ">tied within CI<" in verdict and ">ahead<" not in verdict


def test_heatmap_colours_span_at_least_the_ci_width_so_noise_is_not_contrast():
    import numpy as np

    from tasks.reporting.heatmap import colour_range

    values = np.array([0.0219, 0.0243])
    low, high = colour_range(values, 0.3)  # the two values, 0.3 apart in CI: nearly one colour
    assert math.isclose(high - low, 0.3) and math.isclose((low + high) / 2, 0.0231)
    assert colour_range(values, 0.001) == (0.0219, 0.0243)  # a real spread wider than the noise keeps its range
    assert colour_range(values, None) == (0.0219, 0.0243)
