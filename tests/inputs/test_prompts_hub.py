"""Prompt sets from the hub, without a network: offline failures, the Parti TSV route, datasets."""

from __future__ import annotations

import pytest

from tasks.inputs.prompts import PARTI_HUB, load_prompts
from tasks.spec import PromptsSpec
from tests.inputs.test_prompts import GIGGLE, PARTI_SAMPLE, bad_input


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No hub: datasets and huggingface_hub fail at once instead of retrying the network (~23 s)."""
    import datasets
    import huggingface_hub.constants as hub_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    return datasets


def test_hub_ids_fail_fast_offline(offline):
    expected = ("prompts: cannot load hub dataset '{}' (offline or not found); download it or pass a "
                "local file with source: file")
    assert bad_input(PromptsSpec(source="hf", path="someone/prompts")) == expected.format("someone/prompts")
    assert bad_input(PromptsSpec(source="hf", path=PARTI_HUB)) == expected.format(PARTI_HUB)
    assert bad_input(PromptsSpec(source="parti", path=PARTI_HUB)) == expected.format(PARTI_HUB)
    assert bad_input(PromptsSpec(source="drawbench")) == expected.format("sayakpaul/drawbench")


def test_parti_without_a_path_reads_the_shipped_copy_offline(offline, monkeypatch):
    def no_hub(*args, **kwargs):
        raise AssertionError("source: parti with no path must not ask the hub")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", no_hub)
    monkeypatch.setattr(offline, "load_dataset", no_hub)
    rows = load_prompts(PromptsSpec(source="parti"))
    assert len(rows) == 1632 and GIGGLE in {row["text"] for row in rows}


def test_parti_hub_reads_the_published_tsv_verbatim(offline, monkeypatch):
    calls = []

    def fake_download(repo_id, filename, repo_type, local_files_only):
        calls.append((repo_id, filename, repo_type))
        return str(PARTI_SAMPLE)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", fake_download)
    rows = load_prompts(PromptsSpec(source="parti", path=PARTI_HUB))
    assert calls == [(PARTI_HUB, "PartiPrompts.tsv", "dataset")]
    assert len(rows) == 37 and GIGGLE in {row["text"] for row in rows}


def test_parti_hub_copy_without_tsv_goes_through_datasets(offline, monkeypatch):
    from huggingface_hub.errors import EntryNotFoundError

    def no_tsv(repo_id, filename, repo_type, local_files_only):
        raise EntryNotFoundError(f"{filename} not in {repo_id}")

    features = offline.Features({"Prompt": offline.Value("string"),
                                 "Challenge": offline.ClassLabel(names=["Basic", "Complex"])})
    table = offline.Dataset.from_dict({"Prompt": ["a cat", "a dog"], "Challenge": [1, 0]}, features=features)
    monkeypatch.setattr("huggingface_hub.hf_hub_download", no_tsv)
    monkeypatch.setattr(offline, "load_dataset", lambda path, split: table)
    rows = load_prompts(PromptsSpec(source="parti", path="someone/parti-copy"))
    assert [(row["text"], row["challenge"]) for row in rows] == [("a cat", "Complex"), ("a dog", "Basic")]


def test_hf_local_dataset_folder(offline, tmp_path):
    folder = tmp_path / "my-set"
    folder.mkdir()
    features = offline.Features({"caption": offline.Value("string"), "image_id": offline.Value("int64"),
                                 "category": offline.ClassLabel(names=["Colors", "Text"])})
    offline.Dataset.from_dict({"caption": ["a red ball", "the word 'hi'"], "image_id": [4, 5], "category": [0, 1]},
                              features=features).to_parquet(str(folder / "train.parquet"))
    rows = load_prompts(PromptsSpec(source="hf", path="my-set"), tmp_path)
    assert [(row["text"], row["category"]) for row in rows] == [("a red ball", "Colors"), ("the word 'hi'", "Text")]
    message = bad_input(PromptsSpec(source="hf", path=str(folder), split="test"))
    assert str(folder) in message and "split 'test' not found" in message
