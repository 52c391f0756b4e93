"""What a run and `inspect` print: one JSON object per --json, whole ids at 80 columns, sorted groups,
empty results and missing stores said on stderr, and a closed pipe that ends quietly."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from artifacts.runfiles import register_run, write_run_table
from artifacts.store import Store
from flows.app.cli import main, run_spec
from tests.flows.helpers import t2i_spec

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("prefect_harness")
PROMPTS = "Prompt,Category,Challenge\na red cat,Animals,Basic\na blue dog on a sofa,Animals,Perspective\nthree green circles,Abstract,Basic\n"
GROUPS = ["all", "challenge:Basic", "challenge:Perspective", "category:Abstract", "category:Animals"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tiny_models):
    """Two long-named models swept over steps, two seeds each, prompts with categories and challenges."""
    folder = tmp_path_factory.mktemp("swept")
    (folder / "prompts.csv").write_text(PROMPTS)
    spec = t2i_spec(folder, tiny_models, names=("stable-diffusion-tiny-a", "stable-diffusion-tiny-b"),
                    generation={"seeds": [0, 1]}, sweep={"steps": [1, 2]}, report={"grid_seeds": "all"})
    spec.write_text(spec.read_text().replace("path: prompts.txt", "path: prompts.csv"))
    store = folder / "store"
    return spec, store, run_spec(str(spec), str(store))


def _env(**extra) -> dict:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "80", **extra}


def test_groups_are_sorted_with_no_ci_below_two_prompts(swept):
    _, _, summary = swept
    for variant in summary["variants"]:
        rows = [m for m in summary["metrics"] if m["model"] == variant["variant"]]
        assert [m["group"] for m in rows] == GROUPS
        for row in rows:
            assert (row["n"] < 2) == (row["ci_low"] != row["ci_low"]) == (row["ci_high"] != row["ci_high"])  # NaN below 2
    report = Path(summary["report"]).read_text()
    first_variant = summary["variants"][0]["variant"]
    shown = re.findall(rf"<td class='l'>{re.escape(first_variant)}</td><td class='l'>clip_score</td><td class='l'>([^<]+)</td>", report)
    assert shown == GROUPS
    assert "<td>–</td>" in report


def test_report_grid_shows_every_seed(swept):
    _, _, summary = swept
    report = Path(summary["report"]).read_text()
    assert "Seeds shown: 0, 1 (a row per seed) of 0, 1 generated" in report
    assert report.count("<img src='images/") == 3 * 2 * 4  # prompts x seeds x variants


def test_run_json_from_a_real_process_is_one_object(swept):
    spec, store, summary = swept
    proc = subprocess.run([sys.executable, "-m", "flows.app.cli", "run", str(spec), "--store", str(store), "--json"],
                          capture_output=True, text=True, cwd=REPO, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)  # raises on a second object or a stray line
    assert obj["counts"]["images_generated"] == 0 and obj["variants"] == summary["variants"]
    assert [m["ci_low"] for m in obj["metrics"] if m["n"] < 2] == [None] * 8  # NaN is not JSON: null
    # the same images again: a verdict against the first run, in --json as on the terminal
    assert obj["previous_run"] == summary["run_id"] and obj["verdict"] == "passed"
    # three prompts: every group is under metrics.min_group_conditions (5), so nothing is judged, and the line says so
    assert obj["verdict_line"] == (f"verdict: passed against run {summary['run_id']} (last passed run); nothing could be judged; "
                                   "20 of 20 rows shown, not judged (n < 5 conditions)")
    assert "rule" not in obj and obj["verdict_rule"].startswith("A change is a regression only when its whole 95% paired")


def test_demo_json_is_one_object_listing_its_runs(swept, monkeypatch, capsys):
    spec, store, _ = swept
    # The demo's own specs take minutes on two cores; the printing does not depend on which specs run.
    monkeypatch.setattr("flows.demo.write_demo_spec", lambda store: [str(spec), str(spec)])
    assert main(["demo", "--store", str(store), "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert list(obj) == ["runs"] and len(obj["runs"]) == 2 and obj["runs"][0]["run_id"] != obj["runs"][1]["run_id"]


@pytest.mark.parametrize("what", ["runs", "images", "scores", "metrics"])
def test_inspect_json_is_one_object_with_rows(swept, what, capsys):
    _, store, summary = swept
    assert main(["inspect", what, "--store", str(store), "--run", summary["run_id"], "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["store"] == str(store) and obj["rows"] and obj.get("run_id") == (None if what == "runs" else summary["run_id"])


def test_inspect_pairs_of_a_text_to_image_run_prints_no_json_and_one_error_line(swept, capsys):
    _, store, _ = swept
    assert main(["inspect", "pairs", "--store", str(store), "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1 and "not an image-to-image run" in out.err


def test_at_80_columns_run_ids_and_variant_ids_are_whole(swept, monkeypatch, capsys):
    _, store, summary = swept
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["inspect", "runs", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    ids = re.findall(r"^  run_id\s+(\S+)$", out, re.M)
    assert summary["run_id"] in ids and all(i.startswith("2") for i in ids)
    assert re.findall(r"^  created\s+(\S+)$", out, re.M)[0].endswith("Z") and "…" not in out
    assert main(["inspect", "metrics", "--store", str(store), "--run", summary["run_id"]]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines()) and "…" not in out
    assert {re.split(r"\s+", line)[0] for line in out.splitlines()[3:23]} == {"v1", "v2", "v3", "v4"}
    assert out.split("variants:\n")[1].splitlines() == [
        f"  v{i}  stable-diffusion-tiny-{m}  steps={s}" for i, (s, m) in enumerate(((1, "a"), (1, "b"), (2, "a"), (2, "b")), 1)]


def test_empty_results_are_said_on_stderr(tmp_path, capsys):
    store = Store(tmp_path / "s")
    store.root.mkdir()  # an empty store: the folder exists (a Store makes it only on its first write)
    assert main(["inspect", "runs", "--store", str(store.root)]) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == f"diffeval: store {store.root}: no runs yet; `diffeval run SPEC --store {store.root}` makes one\n"
    assert main(["inspect", "runs", "--store", str(store.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == []
    run_id = "20260101T000000Z-dit-000000"
    write_run_table(store, run_id, "scores", [])
    register_run(store, run_id, "dit", "class-conditional", "completed", "summary.json")
    assert main(["inspect", "scores", "--store", str(store.root)]) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == (f"diffeval: no per-image scores in run {run_id} (class-conditional runs have set "
                                         "metrics only; see inspect metrics)\n")


@pytest.mark.parametrize("what", ["runs", "metrics"])
def test_a_missing_store_is_one_line_and_creates_nothing(tmp_path, what, monkeypatch, capsys):
    missing = tmp_path / "DOES_NOT_EXIST"
    assert main(["inspect", what, "--store", str(missing)]) == 2
    assert capsys.readouterr().err == f"diffeval: error: store {missing}: no such folder; pass --store with the folder your runs wrote to (or set DIFFEVAL_STORE)\n"
    monkeypatch.setenv("DIFFEVAL_STORE", str(missing))
    assert main(["inspect", what]) == 2
    assert not missing.exists()


@pytest.mark.parametrize("json_flag", [["--json"], []])
def test_a_closed_pipe_ends_quietly(swept, json_flag):
    _, store, _ = swept
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written, as after `| head -c 400` has its bytes
    proc = subprocess.run([sys.executable, "-m", "flows.app.cli", "inspect", "images", "--store", str(store), *json_flag],
                          stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env(), timeout=300)
    os.close(write_end)
    assert proc.returncode == 1 and proc.stderr == ""
