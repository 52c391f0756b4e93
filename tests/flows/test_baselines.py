"""A regression stays red every night until it is fixed or accepted: four runs through the flow."""

import pytest

from artifacts.runfiles import list_runs
from artifacts.store import Store
from flows.cli import main, run_spec
from tasks.summary import RegressionFailed
from tests.flows.helpers import t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _spec(folder, tiny, swapped: bool):
    """Models a and b; `swapped` points each name at the other's weights, so one of them gets worse."""
    paths = [tiny["sd-b"], tiny["sd-a"]] if swapped else [tiny["sd-a"], tiny["sd-b"]]
    models = [{"name": n, "path": str(p)} for n, p in zip("ab", paths)]
    return str(t2i_spec(folder, tiny, models=models, regression={"tolerance": {"clip_score": 0.0}, "fail": True}))


def _run(spec: str, store: str) -> dict:
    try:
        return run_spec(spec, store)
    except RegressionFailed as exc:
        return exc.summary


def test_pass_regress_regress_accept_pass(tiny_models, tmp_path, capsys):
    store = str(tmp_path / "store")
    for name in ("good", "bad"):
        (tmp_path / name).mkdir()
    good, bad = (_spec(tmp_path / name, tiny_models, name == "bad") for name in ("good", "bad"))
    first = _run(good, store)
    second = _run(bad, store)
    third = _run(bad, store)
    assert (first["verdict"], second["verdict"], third["verdict"]) == ("passed", "regressed", "regressed")
    # the third night compares with the last good run, not with the second (which regressed)
    assert second["previous_run"] == third["previous_run"] == first["run_id"]

    assert main(["accept", third["run_id"][:20], "--store", store, "--by", "alice", "--why", "swapped on purpose"]) == 0
    assert "accepted by alice" in capsys.readouterr().out
    fourth = _run(bad, store)
    assert fourth["verdict"] == "passed" and fourth["previous_run"] == third["run_id"]
    assert fourth["baseline_why"] == "accepted by alice: swapped on purpose"
    registry = [r["verdict"] for r in list_runs(Store(store))]
    assert registry == ["passed", "regressed", "regressed", "passed"]


def test_accept_without_a_reason_is_refused(tiny_models, tmp_path, capsys):
    store = str(tmp_path / "store")
    (tmp_path / "s").mkdir()
    run_spec(_spec(tmp_path / "s", tiny_models, False), store)
    capsys.readouterr()
    assert main(["accept", "latest", "--store", store, "--by", "bob", "--why", " "]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--why" in err[0]
