"""report.html in a real browser (Debian's headless Chromium via Playwright, as the arena's test): every image
renders and nothing overflows the page sideways at 1280 px. `open_report` is shared with the flow tests,
which check the reports of tiny runs the same way."""

from pathlib import Path

import pytest

from artifacts.images import png_bytes
from artifacts.keys import sha256_bytes
from artifacts.store import Store, image_rel
from tasks.values.units import Condition, Item
from tasks.reporting.glance import glance_sections
from tasks.reporting.report import html_table, image_grid, write_report
from tasks.reporting.trend import trend_section
from tests.arena.test_browser import ARGS, CHROMIUM
from tests.reporting.test_glance import _cmp, _row, _variant

WIDTH = 1280


def open_report(path: str | Path, tmp_path: Path) -> dict:
    """What Chromium sees at 1280 px: the <img> that did not render, the page's scroll width, the trend SVGs' widths,
    its headings."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
                                                       args=ARGS, viewport={"width": WIDTH, "height": 900})
        page = context.new_page()
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        seen = {
            "images": page.evaluate("document.images.length"),
            "missing": page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                                     ".map(i => i.getAttribute('src').slice(0, 80))"),
            "scroll_width": page.evaluate("document.documentElement.scrollWidth"),
            "trend_widths": page.evaluate("Array.from(document.querySelectorAll('svg.trend')).map(s => s.getBoundingClientRect().width)"),
            "headings": page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)"),
        }
        context.close()
    return seen


def _wide_report(tmp_path: Path) -> str:
    """A report with what stretches a page: long variant labels, many groups, a sweep, a wide grid."""
    from PIL import Image

    store = Store(tmp_path / "store")
    models = ("a-model-with-a-rather-long-name-for-a-checkpoint", "b")
    variants = [_variant(m, guidance_scale=g, steps=s) for m in models for g in (1.5, 7.5) for s in (2, 4)]
    groups = ["all"] + [f"category:Group number {i} with a long name" for i in range(12)]
    metrics = [_row(v, "clip_score", 20.0 + i, g, 19.0 + i, 21.0 + i) for i, v in enumerate(variants) for g in groups]
    metrics += [_row(v, "fid", 100.0 - i, n=4) for i, v in enumerate(variants)]
    comparisons = [_cmp(a, b, "clip_score", 1.0, 0.5, 1.5) for a, b in zip(variants[:4], variants[4:])]
    items = [Item(sha256_bytes(f"{v.variant_id}-{c}".encode()), v.variant_id, v.model, c, 0, 0)
             for v in variants for c in ("p", "q")]
    for item in items:
        store.write_bytes(image_rel(item.key), png_bytes(Image.new("RGB", (64, 64), (200, 30, 30))))
    conditions = [Condition(c, {"prompt": c}, f"prompt {c} " * 12, f"prompt {c} " * 12) for c in ("p", "q")]
    wide = [{"model": v.variant_id, **{f"a column with a long header {k}": 1.0 for k in range(12)}} for v in variants]
    sections = [*glance_sections(metrics, comparisons, variants), "<h2>Tables</h2>",
                html_table(metrics, ["model", "metric", "group", "value", "ci_low", "ci_high", "n"], "Metrics"),
                html_table(wide, list(wide[0]), "A table wider than the page"),
                image_grid(store, "run", items, conditions, [v.variant_id for v in variants]),
                trend_section(_history(variants), last_n=10)]
    return write_report(store, "run", "diffeval · a wide report", sections)


def _history(variants) -> list[dict]:
    """History rows of 12 runs of every variant (two metrics), one regression: a trend wider than the page would be."""
    rows = []
    for i in range(12):
        for k, v in enumerate(variants):
            for metric, value in (("clip_score", 20.0 + k + 0.1 * i), ("fid", 100.0 - k)):
                rows.append({"run_id": f"r{i:02d}", "created": 1.7e9 + 3600 * i, "metric": metric, "group": "all",
                             "model": v.variant_id, "value": value, "ci_low": value - 1, "ci_high": value + 1,
                             "verdict": "regressed" if (i, k) == (7, 1) else None})
    return rows


def test_wide_report_renders_every_image_and_fits_1280_px(tmp_path):
    path = _wide_report(tmp_path)
    seen = open_report(path, tmp_path)
    assert seen["images"] >= 16 + 4 and seen["missing"] == []
    assert seen["scroll_width"] <= WIDTH
    assert len(seen["trend_widths"]) == 2 and all(0 < w <= WIDTH for w in seen["trend_widths"])
    assert seen["headings"][:3] == ["At a glance", "Plots", "Tables"]
