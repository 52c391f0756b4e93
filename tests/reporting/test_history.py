"""History rows, the history table (registered runs only), `inspect history`, and the report's trend plots."""

import json
import re
import xml.etree.ElementTree as ET

import pytest

from artifacts.history import append_history, read_history
from artifacts.runfiles import register_run
from artifacts.store import Store
from flows.app.cli import main
from tasks.values.names import CLIP_SCORE, FID
from tasks.reporting.history import run_to_history_rows
from tasks.reporting.trend import last_runs, metric_to_trend_svg, nice_ticks, trend_section

NAN = float("nan")
SVG = "{http://www.w3.org/2000/svg}"
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


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)  # well-formed, or this raises


def _marks(svg: ET.Element, kind: str) -> list[ET.Element]:
    return [e for e in svg.iter() if e.get("class") == kind]


def test_trend_marks_regressions_in_red_and_shows_the_last_n_runs():
    rows = _run("r1", 1.0, {"a": 30.0, "b": 30.0}) + _run("r2", 2.0, {"a": 30.0, "b": 27.0}, [("b", "regressed")], run_verdict="regressed")
    run_ids = last_runs(rows, 10)
    assert run_ids == ["r1", "r2"] and last_runs(rows, 1) == ["r2"]
    crosses = _marks(_svg(metric_to_trend_svg(rows, run_ids, CLIP_SCORE)), "regressed")
    assert len(crosses) == 1 and crosses[0].get("stroke") == "#e00000" and "b, run of" in crosses[0].find(f"{SVG}title").text
    assert _marks(_svg(metric_to_trend_svg(rows, ["r1"], CLIP_SCORE)), "regressed") == []


def test_trend_points_sit_at_their_values_with_their_ci_bars():
    """Higher values are drawn higher; the CI bars span value ± 1 on the same scale; each point says its numbers."""
    rows = [r for i in range(3) for r in _run(f"r{i}", float(i), {"a": 30.0 + i})]
    svg = _svg(metric_to_trend_svg(rows, ["r0", "r1", "r2"], CLIP_SCORE))
    dots = [c for c in svg.iter(f"{SVG}circle")]
    ys = [float(c.get("cy")) for c in dots]
    assert len(dots) == 3 and ys[0] > ys[1] > ys[2] and ys[0] - ys[1] == pytest.approx(ys[1] - ys[2], abs=0.2)
    bars = [p.get("d") for p in svg.iter(f"{SVG}path") if p.get("d", "").startswith("M") and "V" in p.get("d")]
    low, high = (float(v) for v in re.match(r"M[\d.]+,([\d.]+)V([\d.]+)", bars[0]).groups())
    assert low - high == pytest.approx(2 * (ys[0] - ys[1]), abs=0.3)  # CI 29..31 is twice the 1.0 step between runs
    assert dots[2].find(f"{SVG}title").text.endswith("32.0000 (95% CI 31.0000 to 33.0000)")


def test_nice_ticks_cover_the_values_with_round_steps():
    assert nice_ticks(28.6, 29.3) == pytest.approx([28.6, 28.8, 29.0, 29.2, 29.4])
    assert nice_ticks(0.0, 1.0) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    flat = nice_ticks(28.96, 28.96)  # one value: a band around it, never a zero span
    assert flat[0] < 28.96 < flat[-1] and len(flat) <= 7


def test_trend_section_embeds_one_svg_per_metric_so_the_report_works_offline():
    rows = [r for i in range(12) for r in _run(f"r{i:02d}", float(i), {"a": 30.0 + i})]
    section = trend_section(rows, last_n=10)
    svgs = re.findall(r"<svg class='trend'.*?</svg>", section)
    assert len(svgs) == 2 and "The last 10 runs" in section  # clip_score and fid
    assert all(len(list(_svg(s).iter(f"{SVG}circle"))) == 10 for s in svgs) and "href" not in section  # nothing fetched
    assert trend_section([], 10) == "" and trend_section(rows, 0) == ""
    assert trend_section(rows[:2], 10) == ""  # one run: no trend yet


def test_more_than_six_models_are_drawn_in_panels_of_six():
    rows = [r for i in range(3) for r in _run(f"r{i}", float(i), {f"m{k}": 30.0 + k for k in range(8)})]
    two = _svg(metric_to_trend_svg(rows, ["r0", "r1", "r2"], CLIP_SCORE))
    few = [r for r in rows if r["model"] in ("m0", "m1")]
    one = _svg(metric_to_trend_svg(few, ["r0", "r1", "r2"], CLIP_SCORE))
    assert float(two.get("height")) > 1.4 * float(one.get("height"))  # two stacked panels, not one crowded legend
