"""What the CLI prints: valid JSON (NaN as null), and rows that stay whole and distinct at 80 columns."""

import json
import math

import pytest

from flows.app.terminal import print_json, print_rows, print_summary, print_variants

RUN_IDS = ["20260101T000000Z-a-rather-long-nightly-spec-name-0a1b2c", "20260101T000100Z-short-3d4e5f"]
VARIANTS = [{"variant": f"stable-diffusion-tiny-{m}[seeds={s},steps=4]", "model": f"stable-diffusion-tiny-{m}",
             "settings": {"seeds": s, "steps": 4}} for m in ("a", "b") for s in (0, 1)]


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # rich reads the terminal width from COLUMNS


def test_json_is_one_valid_object_with_nan_as_null(capsys):
    print_json({"rows": [{"value": 1.5, "ci_low": math.nan, "ci_high": math.inf, "n": 1, "nested": [math.nan]}]})
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert json.loads(out) == {"rows": [{"value": 1.5, "ci_low": None, "ci_high": None, "n": 1, "nested": [None]}]}


def test_wide_rows_become_blocks_with_every_value_whole(capsys):
    rows = [{"run_id": r, "name": "nightly", "task": "text-to-image", "status": "completed",
             "created": "2026-01-01T00:00:00Z", "path": f"/some/store/runs/{r}"} for r in RUN_IDS]
    print_rows(rows, "runs")
    out = capsys.readouterr().out
    for run_id in RUN_IDS:
        assert f"  run_id   {run_id}\n" in out and f"/some/store/runs/{run_id}\n" in out
    assert "…" not in out and "2026-01-01T00:00:00Z" in out


def test_variant_labels_become_ids_with_their_settings_listed_once(capsys):
    rows = [{"model": v["variant"], "metric": "clip_directional_similarity", "group": "all", "value": 0.1234,
             "ci_low": math.nan, "ci_high": math.nan, "n": 1} for v in VARIANTS]
    print_variants(VARIANTS, print_rows(rows, "metrics", VARIANTS))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["variant", "metric", "group", "value", "ci_low", "ci_high", "n"]  # a table: it fits
    assert all(len(line) <= 80 for line in lines) and not any("…" in line for line in lines)
    table = [line.split() for line in lines[3:7]]
    assert [r[0] for r in table] == ["v1", "v2", "v3", "v4"] and all(r[4:6] == ["–", "–"] for r in table)
    assert lines[7:] == ["", "variants:", "  v1  stable-diffusion-tiny-a  seeds=0, steps=4", "  v2  stable-diffusion-tiny-a  seeds=1, steps=4",
                         "  v3  stable-diffusion-tiny-b  seeds=0, steps=4", "  v4  stable-diffusion-tiny-b  seeds=1, steps=4"]


def test_summary_lists_each_variant_once_below_both_tables(capsys):
    metrics = [{"model": v["variant"], "metric": "clip_score", "group": g, "value": 30.0, "ci_low": 29.0, "ci_high": 31.0, "n": 3}
               for v in VARIANTS for g in ("all", "category:Animals")]
    comparisons = [{"a": VARIANTS[i]["variant"], "b": VARIANTS[i + 2]["variant"], "metric": "clip_score", "diff": 1.0,
                    "ci_low": 0.5, "ci_high": 1.5, "win_rate": 0.75, "n": 3} for i in (0, 1)]
    print_summary({"variants": VARIANTS, "metrics": metrics, "comparisons": comparisons, "counts": {}, "report": "/r.html"})
    out = capsys.readouterr().out
    assert out.count("variants:") == 1 and out.count("stable-diffusion-tiny-a  seeds=0, steps=4") == 1
    assert "category:Animals" not in out and "v1  v3  clip_score" in out
    # the tables fit 80 columns; the verdict is one whole line at the end, to be read or grepped as one
    assert all(len(line) <= 80 for line in out.splitlines()[:-1]) and "…" not in out
    assert out.splitlines()[-1] == "verdict: no baseline (first run of this spec; the next runs compare with this one)"
