"""Hub look-ups offline: one short reachability check, then the libraries' cache-only mode (no retries)."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from artifacts.errors import BadInput
from tasks.inputs import hub
from tasks.models.resolve import resolve_model
from tasks.inputs.prompts import DRAWBENCH_HUB, PARTI_HUB, load_prompts
from tasks.spec import PromptsSpec


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_offline_env(monkeypatch):
    """As a user's shell: no HF_*_OFFLINE (tests/conftest.py sets them), so the check itself decides."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    hub._endpoint_answers.cache_clear()
    yield monkeypatch
    hub._endpoint_answers.cache_clear()


@pytest.fixture
def unreachable_hub(no_offline_env):
    """A hub endpoint on a closed local port: what a machine without network sees, without a network."""
    import datasets
    import huggingface_hub.constants as constants

    no_offline_env.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    no_offline_env.setattr(constants, "HF_HUB_OFFLINE", False)
    no_offline_env.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    return constants


def test_offline_env_means_unreachable_without_asking(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_endpoint_answers", lambda *args: pytest.fail("asked the network"))
    assert hub.hub_reachable() is False


def test_the_check_sees_an_answering_endpoint_and_a_silent_one(no_offline_env):
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    no_offline_env.setattr(hub, "CHECK_TIMEOUT_S", 0.5)
    try:
        assert hub._endpoint_answers(f"http://127.0.0.1:{server.server_port}", 0) is True
        assert hub._endpoint_answers(f"http://127.0.0.1:{silent.getsockname()[1]}", 0) is False
        assert hub._endpoint_answers(f"http://127.0.0.1:{closed_port()}", 0) is False
    finally:
        server.shutdown()
        silent.close()


def test_cache_only_mode_is_set_inside_and_restored(unreachable_hub):
    import datasets

    with hub.cache_only_unless_reachable() as reachable:
        assert reachable is False
        assert unreachable_hub.HF_HUB_OFFLINE is True and datasets.config.HF_HUB_OFFLINE is True
    assert unreachable_hub.HF_HUB_OFFLINE is False and datasets.config.HF_HUB_OFFLINE is False


def test_unreachable_hub_prompt_sets_fail_with_one_line(unreachable_hub, monkeypatch, tmp_path):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")  # nothing cached
    expected = ("prompts: cannot load hub dataset '{}' (offline or not found); download it or pass a "
                "local file with source: file")
    for spec in (PromptsSpec(source="drawbench"), PromptsSpec(source="parti", path=PARTI_HUB)):
        with pytest.raises(BadInput) as info:
            load_prompts(spec)
        assert str(info.value) == expected.format(spec.path or DRAWBENCH_HUB)
    assert len(load_prompts(PromptsSpec(source="parti"))) == 1632  # the shipped copy needs no hub


def test_org_name_path_names_both_a_folder_and_a_hub_id(unreachable_hub, tmp_path):
    (tmp_path / "tiny-models").mkdir()  # the folder the user meant holds sd-a, not sd-c
    with pytest.raises(BadInput) as info:
        resolve_model("tiny-models/sd-c", who="models[x].path", base_dir=tmp_path)
    assert str(info.value) == (
        f"models[x].path: tiny-models/sd-c is neither a folder (no such folder relative to the spec: "
        f"{tmp_path / 'tiny-models' / 'sd-c'}) nor a hub id in the local cache (offline); fix the path or run "
        "online once (the model is then cached)")
    with pytest.raises(BadInput, match="clip-b is neither a folder .* nor a hub id in the local cache"):
        resolve_model("someone/clip-b", kind="clip", who="metrics.clip_score.model", base_dir=tmp_path)


def test_org_name_path_missing_on_a_reachable_hub_names_both(monkeypatch, tmp_path):
    import huggingface_hub

    class RepositoryNotFoundError(Exception):  # the hub client's error, by the name the resolver reads
        pass

    def not_found(self, ref, revision, timeout):
        raise RepositoryNotFoundError(ref)

    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", not_found)
    with pytest.raises(BadInput) as info:
        resolve_model("tiny-models/sd-c", who="models[x].path", base_dir=tmp_path)
    assert str(info.value) == (
        f"models[x].path: tiny-models/sd-c is neither a folder (no such folder relative to the spec: "
        f"{tmp_path / 'tiny-models' / 'sd-c'}) nor a model on the hub (RepositoryNotFoundError); fix the path, "
        "or the hub id and revision (log in for a gated model)")
