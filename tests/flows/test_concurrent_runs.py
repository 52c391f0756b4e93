"""Two `diffeval run`s of one spec started together on one store (a folder, and S3) make each image once."""

import re

import pytest

from artifacts.store import Store, run_rel
from tests.flows.cli_runs import extraction_counts, finish, generation_counts, images_verified, start_run
from tests.flows.helpers import t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")
PROMPTS = [f"a {c} {s}" for c in ("red", "blue") for s in ("cat", "dog", "circle", "square")]


@pytest.mark.parametrize("backend", ["folder", "s3"])
def test_two_concurrent_runs_make_each_image_and_feature_once(backend, tmp_path, tiny_models, request):
    store = str(tmp_path / "store") if backend == "folder" else request.getfixturevalue("s3_store")
    spec = t2i_spec(tmp_path, tiny_models, prompts=PROMPTS, generation={"batch_size": 2, "steps": 4},
                    metrics={"clip_score": {"model": str(tiny_models["clip"]), "batch_size": 4}})
    runs = [start_run(spec, store) for _ in range(2)]
    (one, err_one), (two, err_two) = (finish(run) for run in runs)
    assert one is not None and two is not None, err_one[-2000:] + err_two[-2000:]

    planned = one["counts"]["images_planned"]
    assert planned == len(PROMPTS) * 2
    assert one["counts"]["images_generated"] + two["counts"]["images_generated"] == planned
    assert one["counts"]["features_extracted"] + two["counts"]["features_extracted"] == planned + len(PROMPTS)
    shared = Store(store)
    assert set(generation_counts(shared).values()) == {1} and len(generation_counts(shared)) == planned
    assert set(extraction_counts(shared).values()) == {1}
    assert len(images_verified(shared)) == planned
    assert one["metrics"] == two["metrics"] and one["comparisons"] == two["comparisons"]
    assert len(one["metrics"]) > 0 and one["run_id"] != two["run_id"]
    page = shared.read_bytes(run_rel(one["run_id"], "report.html")).decode()
    # Sample images: relative, and present in the run folder (on S3 too); plots are embedded (data:).
    links = [link for link in re.findall(r"src='([^']+)'", page) if not link.startswith("data:image/png;base64,")]
    assert links and all(link.startswith("images/") and shared.exists(run_rel(one["run_id"], link)) for link in links)
