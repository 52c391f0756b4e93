"""A store written by the code before the reshape is reused as it is: 0 images regenerated, 0 features
re-extracted, identical metric values and comparisons.

The older code is the commit before the reshape (BASE), taken from this repository's history with
`git archive` into a temporary folder and run there as a subprocess; the current code then runs the
same specs against the store it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.app.cli import run_spec
from flows.app.terminal import _plain
from tests.plan.pinned_specs import dit, edit, write_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")
BASE = "c40abe182e1cdaf69d4a2b8bf2db7bc34512a598"  # the last commit before the reshape (layers in folders only)
REPO = Path(__file__).resolve().parents[2]
# Runs each spec in one process, so the old code pays one Prefect server start.
OLD_RUNNER = """
import json, sys
from flows.cli import run_spec
from flows.terminal import _plain
store = sys.argv[1]
print(json.dumps([_plain(run_spec(spec, store)) for spec in sys.argv[2:]], default=str))
"""


def _old_tree(folder: Path) -> Path | None:
    """The BASE commit's files in `folder`; None when git or the commit is not at hand (a shallow clone)."""
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{BASE}^{{commit}}"],
                                                     capture_output=True).returncode != 0:
        return None
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BASE], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _comparable(summary: dict) -> dict:
    """What must not move: metric rows (values, CIs, n, records) and comparisons, NaN as null."""
    return json.loads(json.dumps(_plain({"metrics": summary["metrics"], "comparisons": summary["comparisons"]}), default=str))


def _as_old(new: dict, old: dict):
    """`new` cut to the fields `old` has: columns and record entries added since (the extractor a set metric
    read, the per-group size flag) are not changes; every field the old code wrote must be equal."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: _as_old(new[k], old[k]) if k in new else new.get(k) for k in old}
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [_as_old(n, o) for n, o in zip(new, old)]
    return new


@pytest.mark.timeout(1800)
def test_a_store_written_before_the_reshape_is_reused(tmp_path, tiny_models):
    old = _old_tree(tmp_path / "old-code")
    if old is None:
        pytest.skip(f"git history with commit {BASE[:7]} is not available (shallow clone?)")
    specs = [write_spec(tmp_path / "dit", dit(tiny_models)), write_spec(tmp_path / "edit", edit(tiny_models, limit=2))]
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(old), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600"}
    done = subprocess.run([sys.executable, "-c", OLD_RUNNER, str(store), *map(str, specs)], cwd=old, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    before = json.loads(done.stdout.strip().splitlines()[-1])
    assert [s["counts"]["images_generated"] for s in before] == [12, 12]
    for spec, old_summary in zip(specs, before):
        now = run_spec(str(spec), str(store))
        assert now["counts"]["images_generated"] == 0 and now["counts"]["features_extracted"] == 0, now["counts"]
        old_rows = _comparable(old_summary)
        assert _as_old(_comparable(now), old_rows) == old_rows
