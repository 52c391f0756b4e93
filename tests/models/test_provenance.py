"""Provenance: every run records what it ran with (versions, device, CUDA/cuDNN, the lock), and shows it."""

import json
from importlib.metadata import version

import pytest

from flows.app.cli import main, run_spec
from tasks.models.provenance import PACKAGES, lock_facts, provenance_line, run_provenance
from tests.flows.helpers import t2i_spec

RECORDED = {"python", "torch", "diffusers", "transformers", "torchmetrics", "open_clip", "device", "cuda", "cudnn", "lock_sha256"}


def test_a_lock_whose_pins_match_what_is_installed(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("".join(f"{dist}=={version(dist)} \\\n    --hash=sha256:00\n" for dist in PACKAGES))
    facts = lock_facts(lock)
    assert len(facts["lock_sha256"]) == 64 and facts["lock_mismatch"] == []


def test_an_installed_version_other_than_the_lock_is_named(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("torch==0.0.1 ; sys_platform == 'linux' \\\n    --hash=sha256:00\ndiffusers==" + version("diffusers") + "\n")
    assert lock_facts(lock)["lock_mismatch"] == [f"torch {version('torch')} (lock: 0.0.1)"]
    assert "but installed: torch" in provenance_line({**run_provenance("cpu"), **lock_facts(lock)})


def test_no_lock_and_old_runs_are_said_plainly(tmp_path):
    assert lock_facts(tmp_path / "none.lock") == {"lock_sha256": None, "lock_mismatch": []}
    assert provenance_line(None).startswith("Ran with: not recorded")


def test_the_record_names_versions_and_the_cpu_device():
    facts = run_provenance("cpu")
    assert RECORDED <= set(facts) and facts["torch"] == version("torch") and facts["device"].startswith("CPU ")


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_carries_provenance_in_summary_registry_and_report(tmp_path, tiny_models, capsys):
    summary = run_spec(str(t2i_spec(tmp_path, tiny_models, prompts=["a red cat"])), str(tmp_path / "store"))
    assert RECORDED <= set(summary["provenance"])
    capsys.readouterr()
    assert main(["inspect", "runs", "--store", str(tmp_path / "store"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[-1]["provenance"] == summary["provenance"]
    report = open(summary["report"], encoding="utf-8").read()
    assert f"torch {version('torch')}" in report and "<footer class='provenance'>" in report
    assert main(["inspect", "runs", "--store", str(tmp_path / "store")]) == 0
    assert "lock_sha256" not in capsys.readouterr().out  # the terminal table leaves the nested record to --json
