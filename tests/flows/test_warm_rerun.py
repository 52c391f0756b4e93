"""A warm re-run, as a whole `diffeval run` process, imports neither diffusers nor transformers, nor scipy.stats (half
a second of imports for two quantiles that scipy.special gives) nor matplotlib (its plots are kept in the store, and
the trend, new on every run, is SVG written directly)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.app.cli import run_spec
from tests.flows.helpers import t2i_spec
from tests.flows.test_class_conditional import dit_spec
from tests.flows.test_image_to_image import edit_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")
REPO = Path(__file__).resolve().parents[2]
HEAVY = ("diffusers", "transformers", "scipy.stats", "matplotlib")
# The CLI, then one line naming which of HEAVY the process imported.
PROBE = ("import json, sys\nfrom flows.app.cli import main\nrc = main(sys.argv[1:])\n"
         f"print('imported:', json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\nsys.exit(rc)")


def _specs(folder: Path, tiny: dict) -> dict:
    """Small specs of the three tasks; the DiT one swaps its scheduler and names classes by word."""
    dit = {"name": "dit", "path": str(tiny["dit"]), "scheduler": "DPMSolverMultistepScheduler"}
    return {
        "text-to-image": lambda: t2i_spec(folder, tiny, names=("a",)),
        "class-conditional": lambda: dit_spec(folder, tiny, models=[dit], sweep={"seeds": [0]}),
        "image-to-image": lambda: edit_spec(folder, tiny, sweep={}),
    }


@pytest.mark.parametrize("task", ["text-to-image", "class-conditional", "image-to-image"])
def test_a_warm_rerun_process_imports_no_heavy_module_it_does_not_use(task, tmp_path, tiny_models):
    from prefect.settings import PREFECT_API_URL

    spec, store = _specs(tmp_path, tiny_models)[task](), str(tmp_path / "store")
    cold = run_spec(str(spec), store)
    assert cold["counts"]["images_generated"] > 0
    # The harness's API server, as a user's running `prefect server start` would be.
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", PROBE, "run", str(spec), "--store", store, "--json"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = json.loads(proc.stdout)["counts"]
    assert counts["images_generated"] == 0 and counts["features_extracted"] == 0, counts
    assert proc.stderr.strip().splitlines()[-1] == "imported: []", proc.stderr[-2000:]
