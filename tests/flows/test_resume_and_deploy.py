"""kill -9 mid-generation then the same command; batch-size invariance; the nightly deployment."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from artifacts import inspect
from artifacts.store import Store
from flows.app.cli import run_spec
from tests.flows.helpers import t2i_spec

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def nightly_settings(prefect_yaml: Path = PREFECT_YAML) -> dict:
    """The `nightly` deployment as prefect.yaml declares it (name, entrypoint, cron, parameters)."""
    config = yaml.safe_load(prefect_yaml.read_text())
    deployment = next(d for d in config["deployments"] if d["name"] == "nightly")
    cron = next(s["cron"] for s in deployment["schedules"] if "cron" in s)
    return {"name": deployment["name"], "entrypoint": deployment["entrypoint"], "cron": cron,
            "parameters": deployment.get("parameters", {})}

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_kill_9_during_generation_then_resume(tmp_path, tiny_models):
    prompts = [f"a {c} {s} number {i}" for i, (c, s) in enumerate(
        (c, s) for c in ("red", "blue", "green", "yellow") for s in ("cat", "dog", "circle", "square"))]
    spec = t2i_spec(tmp_path, tiny_models, prompts=prompts, generation={"batch_size": 2, "steps": 4})
    store = tmp_path / "store"
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "flows.app.cli", "run", str(spec), "--store", str(store)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(store.glob("images/*/*.png"))) < 4:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in store.glob("images/*/*.png")}
    assert 4 <= len(before) < 32, "the kill must land during generation"

    summary = run_spec(str(spec), str(store))
    counts = summary["counts"]
    assert counts["images_planned"] == 32 and counts["images_generated"] + counts["images_reused"] == 32
    assert counts["images_reused"] >= len(before) - 2  # at most the batch in flight is redone
    kept = [p for p, mtime in before.items() if p.stat().st_mtime_ns == mtime]
    assert len(kept) >= len(before) - 2
    s = Store(store)
    for row in inspect.images(s, summary["run_id"]):
        assert s.verify(Path(row["path"]).relative_to(store).as_posix(), row["sha256"])
        Image.open(row["path"]).load()


def test_images_do_not_depend_on_batch_size(tmp_path, tiny_models):
    one = run_spec(str(t2i_spec(_mk(tmp_path / "b1"), tiny_models, generation={"batch_size": 1})), str(tmp_path / "s1"))
    four = run_spec(str(t2i_spec(_mk(tmp_path / "b4"), tiny_models, generation={"batch_size": 4})), str(tmp_path / "s4"))
    rows1 = {r["key"]: r for r in inspect.images(Store(tmp_path / "s1"), one["run_id"])}
    rows4 = {r["key"]: r for r in inspect.images(Store(tmp_path / "s4"), four["run_id"])}
    assert rows1.keys() == rows4.keys()  # batch size is not part of the key
    for key in rows1:
        a = np.asarray(Image.open(rows1[key]["path"]), dtype=np.int16)
        b = np.asarray(Image.open(rows4[key]["path"]), dtype=np.int16)
        assert np.abs(a - b).max() <= 2, key  # float reassociation across batch sizes, then uint8 rounding


def test_nightly_deployment_and_schedule_through_the_client(tmp_path, tiny_models):
    import asyncio

    from prefect.client.orchestration import get_client

    from flows.deploy import build_deployment

    settings = nightly_settings()
    assert settings["entrypoint"] == "flows/evaluate.py:evaluate" and settings["cron"] == "0 2 * * *"
    spec = t2i_spec(tmp_path, tiny_models)
    deployment_id = build_deployment(str(spec), settings["cron"], settings["name"]).apply()

    async def read():
        async with get_client() as client:
            return await client.read_deployment(deployment_id)

    deployment = asyncio.run(read())
    assert deployment.name == "nightly"
    assert deployment.parameters["spec_path"] == str(spec.resolve())
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "0 2 * * *" and schedule.active


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
