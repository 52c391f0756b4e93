"""GenAI-Bench's prompts and skill tags from a folder in its hub layout; the offline message for the hub copy."""

from __future__ import annotations

import json

import pytest

from artifacts.errors import BadInput
from tasks.inputs.conditions import prompts_to_conditions
from tasks.inputs.prompts import load_prompts
from tasks.spec import PromptsSpec


def write_genai_bench(folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    prompts = {"00000": {"prompt": "a red apple on a table", "models": {}},
               "00001": {"prompt": "three cats, none of them black", "models": {}},
               "00002": {"prompt": "a dog to the left of a bicycle ", "models": {}}}
    skills = {"attribute": [0, 1], "counting": [1], "negation": [1], "spatial relation": [2], "basic": [0, 2], "advanced": [1]}
    (folder / "genai_image.json").write_text(json.dumps(prompts))
    (folder / "genai_skills.json").write_text(json.dumps(skills))


def test_skills_become_groups_and_the_tier_the_challenge(tmp_path):
    write_genai_bench(tmp_path / "genai")
    rows = load_prompts(PromptsSpec(source="genai-bench", path="genai"), tmp_path)
    assert [(r["text"], r["challenge"], r["skills"]) for r in rows] == [
        ("a red apple on a table", "basic", ["attribute"]),
        ("three cats, none of them black", "advanced", ["attribute", "counting", "negation"]),
        ("a dog to the left of a bicycle", "basic", ["spatial relation"])]
    groups = [c.groups for c in prompts_to_conditions(rows)]
    assert groups[1] == ("challenge:advanced", "skill:attribute", "skill:counting", "skill:negation")
    sampled = load_prompts(PromptsSpec(source="genai-bench", path="genai", challenges=["basic"]), tmp_path)
    assert [r["challenge"] for r in sampled] == ["basic", "basic"]


def test_a_folder_without_the_files_and_the_offline_hub_copy_are_one_line(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=r"lacks genai_image.json, genai_skills.json; pass a folder"):
        load_prompts(PromptsSpec(source="genai-bench", path="empty"), tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BadInput) as err:  # a hub id no cache holds (the default, BaiqiL/GenAI-Bench-1600, may be cached)
        load_prompts(PromptsSpec(source="genai-bench", path="diffeval-tests/no-such-genai-bench"), tmp_path)
    message = str(err.value)
    assert "\n" not in message and "'diffeval-tests/no-such-genai-bench'" in message and "run once online" in message
