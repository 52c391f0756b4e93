"""History rows, the history table (registered runs only), `inspect history`, and the report's trend plots."""

import base64
import io
import json
import re

import numpy as np
from PIL import Image

from artifacts.history import append_history, read_history
from artifacts.runfiles import register_run
from artifacts.store import Store
from flows.app.cli import main
from tasks.values.names import CLIP_SCORE, FID
from tasks.reporting.history import run_to_history_rows
from tasks.reporting.trend import last_runs, metric_to_trend_png, trend_section

NAN = float("nan")
VARIANTS = [{"variant": "a", "model": "a", "fingerprint": "fp-a", "settings": {}},
            {"variant": "b", "model": "b", "fingerprint": "fp-b", "settings": {"steps": 2}}]


def _run(run_id, created, values: dict, verdicts=(), spec="nightly", run_verdict="passed"):
    """History rows of a run whose group-`all` CLIP score of model m is values[m] (CI ±1), FID 10 with no CI."""
    metrics = [{"model": m, "metric": CLIP_SCORE, "group": "all", "value": v, "ci_low": v - 1, "ci_high": v + 1, "n": 4}
               for m, v in values.items()]
    metrics += [{"model": "a", "metric": FID, "group": "all", "value": 10.0, "ci_low": NAN, "ci_high": NAN, "n": NAN}]
    run = {"run_id": run_id, "created": created, "spec": spec, "task": "text-to-image", "baseline_run": None,
           "run_verdict": run_verdict}
    return run_to_history_rows(run, VARIANTS, metrics, [{"model": m, "metric": CLIP_SCORE, "group": "all", "verdict": v}
                                                        for m, v in verdicts])


def test_history_rows_carry_the_run_the_model_and_each_rows_verdict():
    rows = _run("r2", 2.0, {"a": 30.0, "b": 28.0}, verdicts=[("b", "regressed")], run_verdict="regressed")
    b = next(r for r in rows if r["model"] == "b")
    assert (b["run_id"], b["spec"], b["fingerprint"], json.loads(b["settings"]), b["verdict"], b["run_verdict"]) == \
        ("r2", "nightly", "fp-b", {"steps": 2}, "regressed", "regressed")
    fid = next(r for r in rows if r["metric"] == FID)
    assert fid["verdict"] is None and fid["n"] is None  # no baseline row to compare with; no n for a set metric here


def test_the_table_keeps_registered_runs_only_oldest_first_and_filters(tmp_path):
    store = Store(tmp_path)
    for run_id, spec in (("r1", "nightly"), ("r2", "other"), ("crashed", "nightly"), ("r3", "nightly")):
        append_history(store, _run(run_id, 0.0, {"a": 30.0}, spec=spec))
        if run_id != "crashed":  # a run that died between its history rows and its registry row
            register_run(store, run_id, spec, "text-to-image", "completed", f"runs/{run_id}/summary.json", "passed")
    assert list(dict.fromkeys(r["run_id"] for r in read_history(store))) == ["r1", "r2", "r3"]
    assert {r["run_id"] for r in read_history(store, spec="nightly")} == {"r1", "r3"}
    assert {r["metric"] for r in read_history(store, metric=FID)} == {FID}


def test_inspect_history_json_and_table(tmp_path, capsys):
    store = Store(tmp_path)
    append_history(store, _run("r1", 0.0, {"a": 30.0, "b": 29.0}))
    register_run(store, "r1", "nightly", "text-to-image", "completed", "runs/r1/summary.json", "passed")
    assert main(["inspect", "history", "--store", str(tmp_path), "--spec", "nightly", "--metric", CLIP_SCORE, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["value"], r["run_verdict"]) for r in out["rows"]] == [("a", 30.0, "passed"), ("b", 29.0, "passed")]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out["rows"][0]["created"])
    assert main(["inspect", "history", "--store", str(tmp_path), "--spec", "no-such-spec"]) == 0
    assert "no history rows match" in capsys.readouterr().err
    assert main(["inspect", "runs", "--store", str(tmp_path), "--metric", CLIP_SCORE]) == 2
    assert "only `inspect history` takes it" in capsys.readouterr().err


def _red_pixels(png: bytes) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((rgb[..., 0] > 220) & (rgb[..., 1] < 40) & (rgb[..., 2] < 40)).sum())


def test_trend_marks_regressions_in_red_and_shows_the_last_n_runs():
    rows = _run("r1", 1.0, {"a": 30.0, "b": 30.0}) + _run("r2", 2.0, {"a": 30.0, "b": 27.0}, [("b", "regressed")], run_verdict="regressed")
    run_ids = last_runs(rows, 10)
    assert run_ids == ["r1", "r2"] and last_runs(rows, 1) == ["r2"]
    assert _red_pixels(metric_to_trend_png(rows, run_ids, CLIP_SCORE)) > 20
    assert _red_pixels(metric_to_trend_png(rows, ["r1"], CLIP_SCORE)) == 0


def test_trend_section_embeds_one_png_per_metric_so_the_report_works_offline():
    rows = [r for i in range(12) for r in _run(f"r{i:02d}", float(i), {"a": 30.0 + i})]
    section = trend_section(rows, last_n=10)
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", section)
    assert len(images) == 2 and "The last 10 runs" in section  # clip_score and fid
    assert all(Image.open(io.BytesIO(base64.b64decode(i))).format == "PNG" for i in images)
    assert trend_section([], 10) == "" and trend_section(rows, 0) == ""
    assert trend_section(rows[:2], 10) == ""  # one run: no trend yet


def test_more_than_six_models_are_drawn_in_panels_of_six():
    rows = [r for i in range(3) for r in _run(f"r{i}", float(i), {f"m{k}": 30.0 + k for k in range(8)})]
    two = Image.open(io.BytesIO(metric_to_trend_png(rows, ["r0", "r1", "r2"], CLIP_SCORE)))
    few = [r for r in rows if r["model"] in ("m0", "m1")]
    one = Image.open(io.BytesIO(metric_to_trend_png(few, ["r0", "r1", "r2"], CLIP_SCORE)))
    assert two.height > 1.4 * one.height  # two stacked panels, not one crowded legend


def test_the_trend_is_the_picture_savefig_tight_draws(monkeypatch):
    """trend_png asks for the tight box itself (one layout pass fewer): the pixels of bbox_inches="tight"."""
    from matplotlib.figure import Figure

    rows = [r for i in range(4) for r in _run(f"r{i}", float(i), {f"a-rather-long-model-name-{k}": 30.0 + k for k in range(8)},
                                             [("a-rather-long-model-name-1", "regressed")] if i == 2 else ())]
    ours = Image.open(io.BytesIO(metric_to_trend_png(rows, ["r0", "r1", "r2", "r3"], CLIP_SCORE)))
    savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, buffer, **kw: savefig(fig, buffer, **{**kw, "bbox_inches": "tight"}))
    tight = Image.open(io.BytesIO(metric_to_trend_png(rows, ["r0", "r1", "r2", "r3"], CLIP_SCORE)))
    assert ours.size == tight.size and np.array_equal(np.asarray(ours), np.asarray(tight))
