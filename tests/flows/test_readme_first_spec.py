"""The README's first own spec runs as printed, offline, on the models `diffeval models tiny` builds."""

import json
import re
from pathlib import Path

import pytest

from flows.app.cli import main

pytestmark = pytest.mark.usefixtures("prefect_harness")
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(marker: str) -> str:
    """The fenced block of README.md whose first line is `marker`."""
    blocks = re.findall(r"```\w*\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return next(block for block in blocks if block.startswith(marker))


def test_first_spec_from_the_readme_runs_offline(tmp_path, tiny_models, capsys):
    spec = readme_block("# first.yaml")
    commands = readme_block(".venv/bin/diffeval models tiny --out tiny-models")
    assert "diffeval run first.yaml" in commands
    # as if `models tiny --out tiny-models` had run here: the session's tiny models, linked in
    (tmp_path / "tiny-models").symlink_to(tiny_models["sd-a"].parent, target_is_directory=True)
    (tmp_path / "first.yaml").write_text(spec, encoding="utf-8")
    rc = main(["run", str(tmp_path / "first.yaml"), "--store", str(tmp_path / "store"), "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    summary = json.loads(out)
    assert summary["counts"]["images_generated"] == 24
    groups = {m["group"] for m in summary["metrics"] if m["model"] == "tiny-a"}
    assert {"all", "challenge:Basic", "challenge:Writing & Symbols"} <= groups, groups
    assert len(summary["comparisons"]) >= 1


def test_readme_says_what_prefect_deploy_needs():
    text = README.read_text(encoding="utf-8")
    for needed in ("prefect server start", "PREFECT_API_URL", "prefect work-pool create diffeval --type process",
                   "prefect worker start --pool diffeval", "diffeval models tiny --out"):
        assert needed in text, needed
