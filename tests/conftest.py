"""Test session set-up: a private Prefect home, no analytics, few threads, tiny models built once."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="diffeval-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["DIFFEVAL_CACHE"] = tempfile.mkdtemp(prefix="diffeval-cache-")  # weight-file hashes: not the user's ~/.cache
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
# The README's command runs two xdist workers (`-n 2`): one torch thread each on a 2-core machine; alone, two.
os.environ.setdefault("OMP_NUM_THREADS", "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # CLI subprocesses on a busy machine

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session", autouse=True)
def _local_server_stopped():
    """A CLI run with no PREFECT_API_URL starts the local Prefect server in this session's home: stop it at the end."""
    yield
    from flows.local_server import stop_server

    stop_server(Path(_HOME))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Every tiny random-weight model, built once per test session."""
    from tasks.demo.tiny import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def metric_models(tmp_path_factory) -> dict[str, Path]:
    """The tiny stand-ins of the newer metrics' models (DINOv2, CMMD CLIP, PickScore, HPS v2), built once."""
    from tasks.demo.tiny_metric_models import build_metric_models

    return build_metric_models(tmp_path_factory.mktemp("metric-models"))


@pytest.fixture(scope="session")
def prefect_harness():
    """One ephemeral Prefect API for the whole session (starting one costs seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 for the session, this process pointed at it; stopped at the end."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e '.[test]')")
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install -e '.[test]')")
    from tests.objectstore import MotoServer

    server = MotoServer()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    yield server
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture
def s3_store(s3_server) -> str:
    """A store URL in a fresh bucket of the session's S3 server."""
    import uuid

    return f"s3://{s3_server.make_bucket(f'diffeval-{uuid.uuid4().hex[:12]}')}/store"
