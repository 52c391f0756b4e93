"""A regression stays red every night until it is fixed or accepted: four runs through the flow.

The first of them also shows what the Prefect UI gets: task runs joined into the DAG, artifact keys
that name the store.
"""

import asyncio
import json

import pytest

from artifacts.runfiles import list_runs
from artifacts.store import Store
from flows.app.cli import main, run_spec
from flows.evaluate import _artifact_key
from tasks.reporting.summary import RegressionFailed
from tests.flows.helpers import assert_dag, assert_warm_dag, regression_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _run(spec: str, store: str) -> dict:
    try:
        return run_spec(spec, store)
    except RegressionFailed as exc:
        return exc.summary


def _flow_runs_of(store: str) -> list:
    """Flow runs of the evaluation against `store`, oldest first, each with its task runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read():
        async with get_client() as client:
            runs = [r for r in await client.read_flow_runs() if r.parameters.get("store") == store]
            runs.sort(key=lambda r: r.created)
            ids = FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in runs]))
            tasks = await client.read_task_runs(flow_run_filter=ids)
            return [(r, [t for t in tasks if t.flow_run_id == r.id]) for r in runs]

    return asyncio.run(read())


def test_pass_regress_regress_accept_pass(tiny_models, tmp_path, capsys):
    store = str(tmp_path / "store")
    for name in ("good", "bad"):
        (tmp_path / name).mkdir()
    good, bad = (regression_spec(tmp_path / name, tiny_models, name == "bad") for name in ("good", "bad"))
    first = _run(good, store)
    second = _run(bad, store)
    third = _run(bad, store)
    assert (first["verdict"], second["verdict"], third["verdict"]) == ("passed", "regressed", "regressed")
    # the third night compares with the last good run, not with the second (which regressed)
    assert second["previous_run"] == third["previous_run"] == first["run_id"]

    assert main(["accept", third["run_id"], "--store", store, "--by", "alice", "--why", "swapped on purpose"]) == 0
    assert "accepted by alice" in capsys.readouterr().out
    fourth = _run(bad, store)
    assert fourth["verdict"] == "passed" and fourth["previous_run"] == third["run_id"]
    assert fourth["baseline_why"] == "accepted by alice: swapped on purpose"
    registry = [r["verdict"] for r in list_runs(Store(store))]
    assert registry == ["passed", "regressed", "regressed", "passed"]
    assert second["verdict_line"].startswith(f"verdict: regressed against run {first['run_id']} (last passed run); worst change ")
    assert main(["inspect", "runs", "--store", store, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["verdict"], r["accepted_by"]) for r in runs] == [("passed", None), ("regressed", None), ("regressed", "alice"),
                                                                 ("passed", None)]
    assert runs[2]["accepted_why"] == "swapped on purpose"
    assert main(["inspect", "runs", "--store", store]) == 0
    assert "alice" in capsys.readouterr().out
    # every --run takes a spec name (its latest run) as well as an id or a prefix
    assert main(["inspect", "metrics", "--store", store, "--run", "t2i-test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == fourth["run_id"]
    _check_history(store, [first, second, third, fourth], capsys)

    runs = _flow_runs_of(store)
    assert [r.state.type.value for r, _ in runs] == ["COMPLETED", "FAILED", "FAILED", "COMPLETED"]
    assert_dag(runs[0][1])
    assert third["counts"]["images_generated"] == third["counts"]["features_extracted"] == 0
    assert_warm_dag(runs[2][1])  # the second night made all the third needed: no generate or extract step
    assert _artifact_keys(runs[0][0].id) == {f"{_artifact_key('t2i-test', str(Store(store).root))}-{k}" for k in ("metrics", "summary")}


def _check_history(store: str, summaries: list[dict], capsys) -> None:
    """The history table holds each night's rows with its verdicts; the last report plots them."""
    assert main(["inspect", "history", "--store", store, "--metric", "clip_score", "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["group"] == "all"]
    assert [r["run_id"] for r in rows] == [s["run_id"] for s in summaries for _ in "ab"]
    assert [r["run_verdict"] for r in rows[::2]] == ["passed", "regressed", "regressed", "passed"]
    assert [r["verdict"] for r in rows[2:4]].count("regressed") == 1 and rows[0]["verdict"] is None
    report = open(summaries[-1]["report"]).read()
    assert report.count("<svg class='trend'") == 1 and "aria-label='clip_score trend'" in report and "The last 4 runs" in report


def _artifact_keys(flow_run_id) -> set:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))

    return {a.key for a in asyncio.run(read())}


def test_artifact_keys_differ_between_stores():
    assert _artifact_key("nightly", "/srv/a") != _artifact_key("nightly", "/srv/b")
    assert _artifact_key("Nightly.v2", "/srv/a").startswith("diffeval-nightly-v2-")


def test_accept_without_a_reason_is_refused(tiny_models, tmp_path, capsys):
    store = str(tmp_path / "store")
    (tmp_path / "s").mkdir()
    run_spec(regression_spec(tmp_path / "s", tiny_models, False), store)
    capsys.readouterr()
    assert main(["accept", "latest", "--store", store, "--by", "bob", "--why", " "]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--why" in err[0]


def test_a_baseline_measured_with_another_clip_is_refused_by_name(tiny_models, tmp_path):
    """Other CLIP weights put CLIP score on another scale: the run says so in one line instead of a verdict."""
    import shutil

    store = str(tmp_path / "store")
    (tmp_path / "s").mkdir()
    spec = regression_spec(tmp_path / "s", tiny_models, False)
    first = _run(spec, store)
    other = tmp_path / "other-clip"
    shutil.copytree(tiny_models["clip"], other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "initializer_factor": 1.5}))  # other files, other fingerprint
    text = open(spec).read().replace(str(tiny_models["clip"]), str(other))
    open(spec, "w").write(text)
    second = _run(spec, store)
    assert second["previous_run"] is None and second["regressions"] == [] and second["verdict"] == "passed"
    line = second["verdict_line"]
    assert "\n" not in line and line.startswith(f"verdict: no baseline, not compared with run {first['run_id']}: clip_score extractor "
                                                "changed (clip-image clip-image-")
    assert f"settings model {tiny_models['clip']} -> {other}" in line
    assert "not compared with run" in open(second["report"]).read()
