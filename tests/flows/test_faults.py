"""Faults: the object store cut off mid-run, a worker killed mid-batch while another run shares its store."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from artifacts.store import Store
from flows.app.cli import run_spec
from tests.flows.cli_runs import finish, generation_counts, images_verified, start_run
from tests.flows.helpers import t2i_spec
from tests.objectstore import TcpProxy

pytestmark = pytest.mark.usefixtures("prefect_harness")
PROMPTS = [f"a {c} {s} number {i}" for i, (c, s) in enumerate((c, s) for c in ("red", "blue", "green", "yellow") for s in ("cat", "dog", "circle"))]


def _wait_for_images(store: Store, at_least: int, proc, seconds: float = 300) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        count = len(store.walk("images", ".png"))
        if count >= at_least:
            return count
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} images appeared before the run ended or {seconds} s passed")


def _spec(tmp_path, tiny_models):
    return t2i_spec(tmp_path, tiny_models, prompts=PROMPTS, names=("a",), generation={"batch_size": 2, "steps": 4})


def test_store_cut_off_mid_run_is_one_line_and_the_next_run_resumes(tmp_path, tiny_models, s3_server, s3_store):
    spec, store, proxy = _spec(tmp_path, tiny_models), Store(s3_store), TcpProxy(s3_server.port)
    run = start_run(spec, s3_store, env=s3_server.env(proxy.url))  # this run reaches the store through the proxy
    before = _wait_for_images(store, 4, run)
    proxy.cut()
    summary, err = finish(run)
    assert summary is None and run.returncode == 2
    ours = [line for line in err.splitlines() if line.startswith("diffeval: error:")]
    assert len(ours) == 1 and f"store {s3_store}: cannot" in ours[0] and "run the same command again" in ours[0], err[-3000:]

    resumed = run_spec(str(spec), s3_store)  # the store reachable again (directly)
    counts = resumed["counts"]
    assert counts["images_planned"] == len(PROMPTS) and counts["images_reused"] >= before - 2  # at most a batch redone
    assert set(generation_counts(store).values()) == {1} and len(images_verified(store)) == counts["images_planned"]


def test_a_worker_killed_mid_batch_leaves_its_batch_to_a_concurrent_run(tmp_path, tiny_models):
    spec, store = _spec(tmp_path, tiny_models), Store(tmp_path / "store")
    doomed = start_run(spec, str(store.root))
    _wait_for_images(store, 2, doomed)
    with ThreadPoolExecutor(1) as beside:  # the surviving run: this process, while the doomed one generates
        survivor = beside.submit(run_spec, str(spec), str(store.root))
        _wait_for_images(store, 6, doomed)
        os.kill(doomed.pid, signal.SIGKILL)  # its unfinished leases stay behind
        doomed.wait()
        summary = survivor.result(timeout=600)
    assert summary["counts"]["images_planned"] == len(PROMPTS)
    assert set(generation_counts(store).values()) == {1} and len(images_verified(store)) == len(PROMPTS)
