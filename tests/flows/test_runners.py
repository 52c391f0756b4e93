"""The Dask and Ray task runners on CPU: 2 workers make byte-identical images and identical metrics to
the thread runner, each image and feature once."""

import pytest
import torch

from artifacts.store import Store
from flows.app.cli import run_spec
from tests.flows.cli_runs import extraction_counts, generation_counts, images_verified
from tests.flows.helpers import t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_models):
    """The spec, and its run on the thread runner with one torch thread: the thread count a Dask or Ray
    CPU worker gets, since float sums on a CPU round differently with more threads."""
    folder = tmp_path_factory.mktemp("runners")
    spec = t2i_spec(folder, tiny_models, generation={"batch_size": 2}, metrics={"clip_score": {"model": str(tiny_models["clip"]), "batch_size": 2}})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary = run_spec(str(spec), str(folder / "thread-store"))
    finally:
        torch.set_num_threads(threads)
    return spec, summary, images_verified(Store(folder / "thread-store"))


@pytest.mark.parametrize("kind", ["dask", "ray"])
def test_two_workers_match_the_thread_runner(kind, reference, tmp_path):
    pytest.importorskip(f"prefect_{kind}", reason=f"prefect-{kind} is not installed (pip install -e '.[{kind}]')")
    spec, thread_run, thread_images = reference
    store = Store(tmp_path / "store")
    summary = run_spec(str(spec), str(store.root), {"kind": kind, "workers": 2})
    assert summary["counts"] == thread_run["counts"]
    assert set(generation_counts(store).values()) == {1} and set(extraction_counts(store).values()) == {1}
    assert images_verified(store) == thread_images  # same keys, same bytes
    assert summary["metrics"] == thread_run["metrics"] and summary["comparisons"] == thread_run["comparisons"]
