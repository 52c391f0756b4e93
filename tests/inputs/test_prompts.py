"""Prompt loading: real-format readers, filters, seeded sampling and one-line errors."""

from __future__ import annotations

import collections
import hashlib
import json
import tomllib
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from artifacts.errors import BadInput
from tasks.inputs.prompts import (PROMPT_COLUMNS, PROMPTS_SCHEMA, builtin_prompts, load_prompts,
                           prompt_id_of)
from tasks.spec import PromptsSpec, spec_from_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PARTI_SAMPLE = FIXTURES / "parti_sample.tsv"
DRAWBENCH_LIKE = FIXTURES / "drawbench_like.csv"
# the published sets, kept beside the repo (../shared/data) for checking the real formats
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PARTI_SHA256 = "fab29e41bb512a169b56acab4cf2a41dcb675e285df2efcde6640c7dd3c440eb"
DRAWBENCH_SHA256 = "cf4590eff6d94ae366183d6df9d816fa0d3463a02c210ffec01cd662582c457f"
GIGGLE = ('"G I G G L E" painted in thick colorful lettering as graffiti on a faded red brick wall '
          'with a splotch of exploding white paint.')
PARTI_CHALLENGES = {"Basic", "Complex", "Fine-grained Detail", "Imagination", "Linguistic Structures",
                    "Perspective", "Properties & Positioning", "Quantity", "Simple Detail",
                    "Style & Format", "Writing & Symbols"}
PARTI_CATEGORIES = {"Abstract", "Animals", "Artifacts", "Arts", "Food & Beverage", "Illustrations",
                    "Indoor Scenes", "Outdoor Scenes", "People", "Produce & Plants", "Vehicles",
                    "World Knowledge"}


def parti(**kwargs) -> PromptsSpec:
    return PromptsSpec(source="parti", path=str(PARTI_SAMPLE), **kwargs)


def shared_file(name: str, sha256: str) -> Path:
    """A published set kept beside the repo; the test skips where it is absent (a fresh clone, CI)."""
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} absent: this check of the published file runs only where ../shared/data exists")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, f"{path}: not the published file"
    return path


def bad_input(spec: PromptsSpec, base_dir: Path | str = ".") -> str:
    with pytest.raises(BadInput) as info:
        load_prompts(spec, base_dir)
    message = str(info.value)
    assert "\n" not in message and message.startswith("prompts")
    return message


# ---- ids and the built-in set -------------------------------------------------------------

def test_prompt_id_is_sha256_prefix_of_utf8_text():
    for text in ("a red kettle", "Salvador Dalí", GIGGLE):
        assert prompt_id_of(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    assert prompt_id_of("a") != prompt_id_of("a ")


def test_builtin_set_covers_the_guides_challenges_with_parti_categories():
    rows = load_prompts(PromptsSpec())
    assert rows == builtin_prompts() and 20 <= len(rows) <= 30
    assert all(tuple(row) == PROMPT_COLUMNS and row["prompt_id"] == prompt_id_of(row["text"]) for row in rows)
    counts = collections.Counter(row["challenge"] for row in rows)
    assert set(counts) == {"Basic", "Complex", "Linguistic Structures", "Imagination", "Writing & Symbols"}
    assert min(counts.values()) >= 4
    assert {row["category"] for row in rows} == PARTI_CATEGORIES
    assert len({row["text"] for row in rows}) == len(rows)
    pa.Table.from_pylist(rows, schema=PROMPTS_SCHEMA)


def test_builtin_texts_are_not_parti_texts():
    parti_texts = {r["text"].casefold() for r in load_prompts(PromptsSpec(source="parti"))}
    assert not {row["text"].casefold() for row in builtin_prompts()} & parti_texts


def test_builtin_texts_are_not_drawbench_texts():
    drawbench_texts = {r["text"].casefold() for r in load_prompts(PromptsSpec(
        source="drawbench", path=str(shared_file("drawbench.csv", DRAWBENCH_SHA256))))}
    assert not {row["text"].casefold() for row in builtin_prompts()} & drawbench_texts


# ---- real formats ----------------------------------------------------------------------------

def test_parti_sample_keeps_quotes_unicode_and_strips_stray_spaces():
    rows = load_prompts(parti())
    texts = [row["text"] for row in rows]
    assert len(rows) == 37
    assert GIGGLE in texts
    assert sum('"' in t for t in texts) == 10
    assert "Salvador Dalí" in texts and "a corgi’s head depicted as an explosion of a nebula" in texts
    assert all(t == t.strip() for t in texts)
    assert "A penguin wearing aviator goggles and flying confidently next to a bemused eagle." in texts
    assert {row["challenge"] for row in rows} == PARTI_CHALLENGES
    assert rows[0] == {"prompt_id": prompt_id_of("bond"), "text": "bond", "category": "Abstract",
                       "challenge": "Basic"}


def test_parti_is_shipped_as_published_with_its_licence():
    data = resources.files("tasks.inputs") / "data"
    assert hashlib.sha256((data / "PartiPrompts.tsv").read_bytes()).hexdigest() == PARTI_SHA256
    notice = (data / "NOTICE").read_text(encoding="utf-8")
    assert "google-research/parti" in notice and "Apache License, Version 2.0" in notice
    assert "Apache License" in (data / "LICENSE-Apache-2.0").read_text(encoding="utf-8")
    with open(Path(__file__).resolve().parents[2] / "pyproject.toml", "rb") as handle:
        shipped = tomllib.load(handle)["tool"]["setuptools"]["package-data"]["tasks.inputs"]
    assert sorted(shipped) == sorted(f"data/{p.name}" for p in data.iterdir() if p.is_file())


def test_shipped_parti_equals_the_published_file_beside_the_repo():
    published = load_prompts(PromptsSpec(source="parti", path=str(shared_file("PartiPrompts.tsv", PARTI_SHA256))))
    assert load_prompts(PromptsSpec(source="parti")) == published


def test_real_parti_file():
    rows = load_prompts(PromptsSpec(source="parti"))  # no path, no network: the shipped copy
    assert len(rows) == 1632  # no duplicated texts in the published file
    assert {row["challenge"] for row in rows} == PARTI_CHALLENGES
    assert {row["category"] for row in rows} == PARTI_CATEGORIES
    assert collections.Counter(row["challenge"] for row in rows)["Writing & Symbols"] == 91
    texts = [row["text"] for row in rows]
    assert GIGGLE in texts and sum('"' in t for t in texts) == 22


def test_real_drawbench_file():
    rows = load_prompts(PromptsSpec(source="drawbench", path=str(shared_file("drawbench.csv", DRAWBENCH_SHA256))))
    categories = collections.Counter(row["category"] for row in rows)
    assert len(rows) == 200 and len(categories) == 11
    assert categories["Gary Marcus et al."] == 10 and categories["Reddit"] == 38
    assert all(row["challenge"] is None for row in rows)
    assert "Photo of a mega Lego space station inside a kid's bedroom." in {row["text"] for row in rows}


@pytest.mark.parametrize("header", ["Prompt", "Prompts", "prompt"])
def test_drawbench_shaped_csv_with_each_hub_header(tmp_path, header):
    path = tmp_path / "db.csv"
    path.write_text(DRAWBENCH_LIKE.read_text(encoding="utf-8").replace("Prompt,", f"{header},", 1),
                    encoding="utf-8")
    rows = load_prompts(PromptsSpec(source="drawbench", path=str(path)))
    assert len(rows) == 8
    assert rows[2]["text"] == 'A sign reading "SLOW DOWN", painted on a fence.'
    assert rows[7]["text"] == "A kettle, a lamp, and a clock on a shelf."
    assert {row["category"] for row in rows} == {"Colors", "Text", "Positional", "Invented Pairs", "Counting"}


def test_column_mapping_wins_over_detection(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("Prompt,caption,kind,level\nshort one,a long caption,Animals,hard\n", encoding="utf-8")
    assert load_prompts(PromptsSpec(source="file", path=str(path)))[0]["text"] == "short one"
    row = load_prompts(PromptsSpec(source="file", path=str(path),
                                   columns={"prompt": "caption", "category": "kind", "challenge": "level"}))[0]
    assert (row["text"], row["category"], row["challenge"]) == ("a long caption", "Animals", "hard")


def write_formats(folder: Path, items: list[dict]) -> dict[str, Path]:
    """The same prompts as .tsv .csv .jsonl .json .parquet (with labels) and .txt (text only)."""
    suffixes = (".tsv", ".csv", ".jsonl", ".json", ".parquet", ".txt")
    paths = {suffix: folder / f"prompts{suffix}" for suffix in suffixes}
    header = "Prompt\tCategory\tChallenge\n"
    tsv_rows = [f"{i['Prompt']}\t{i['Category']}\t{i['Challenge']}\n" for i in items]
    paths[".tsv"].write_text(header + "".join(tsv_rows), encoding="utf-8")
    csv_rows = ['"{}",{},{}'.format(i["Prompt"].replace('"', '""'), i["Category"], i["Challenge"]) for i in items]
    paths[".csv"].write_text(header.replace("\t", ",") + "\r\n".join(csv_rows) + "\r\n", encoding="utf-8")
    paths[".jsonl"].write_text("\n".join(json.dumps(i) for i in items) + "\n\n", encoding="utf-8")
    paths[".json"].write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(items), paths[".parquet"])
    paths[".txt"].write_text("\n\n".join(i["Prompt"] for i in items) + "\n   \n", encoding="utf-8-sig")
    return paths


def test_every_file_format_gives_the_same_rows(tmp_path):
    items = [{"Prompt": 'a sign that says "hi", twice', "Category": "Arts", "Challenge": "Basic"},
             {"Prompt": "Crème brûlée on a plate", "Category": "Food & Beverage", "Challenge": "Complex"},
             {"Prompt": "a lone tree", "Category": "Produce & Plants", "Challenge": "Basic"}]
    expected = [{"prompt_id": prompt_id_of(i["Prompt"]), "text": i["Prompt"], "category": i["Category"],
                 "challenge": i["Challenge"]} for i in items]
    for suffix, path in write_formats(tmp_path, items).items():
        rows = load_prompts(PromptsSpec(source="file", path=str(path)))
        if suffix == ".txt":
            assert rows == [{**row, "category": None, "challenge": None} for row in expected]
        else:
            assert rows == expected, suffix


def test_json_strings_and_relative_path_against_base_dir(tmp_path):
    (tmp_path / "sets").mkdir()
    (tmp_path / "sets" / "p.json").write_text('["a cat", "a dog"]', encoding="utf-8")
    rows = load_prompts(PromptsSpec(source="file", path="sets/p.json"), tmp_path)
    assert [row["text"] for row in rows] == ["a cat", "a dog"]
    spec = spec_from_dict({"name": "t", "models": [{"name": "m", "path": "x/y"}],
                           "prompts": {"source": "parti", "path": "parti_sample.tsv"}}, "spec.yaml", FIXTURES)
    assert len(load_prompts(spec.prompts, spec.base_dir)) == 37


def test_duplicate_texts_collapse_to_the_first_row(tmp_path):
    path = tmp_path / "dup.tsv"
    path.write_text("Prompt\tCategory\tChallenge\na cat\tAnimals\tBasic\na dog\tAnimals\tBasic\n"
                    " a cat \tArts\tComplex\n\ta blank prompt is skipped\t\n", encoding="utf-8")
    rows = load_prompts(PromptsSpec(source="file", path=str(path)))
    assert [(row["text"], row["category"]) for row in rows] == [("a cat", "Animals"), ("a dog", "Animals")]


# ---- filters and sampling ----------------------------------------------------------------------

def test_filters_by_challenge_and_category():
    rows = load_prompts(parti(challenges=["Writing & Symbols", "Basic "]))
    assert {row["challenge"] for row in rows} == {"Writing & Symbols", "Basic"} and len(rows) == 9
    rows = load_prompts(parti(challenges=["Writing & Symbols"], categories=["Illustrations"]))
    assert len(rows) == 2 and rows[0]["text"] == GIGGLE


def test_per_challenge_is_seeded_reproducible_and_independent_of_file_order(tmp_path):
    first = load_prompts(parti(per_challenge=2, sample_seed=7))
    assert first == load_prompts(parti(per_challenge=2, sample_seed=7))
    assert collections.Counter(row["challenge"] for row in first) == {c: 2 for c in PARTI_CHALLENGES}
    lines = PARTI_SAMPLE.read_text(encoding="utf-8").splitlines()
    shuffled = tmp_path / "reversed.tsv"
    shuffled.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8")
    again = load_prompts(PromptsSpec(source="parti", path=str(shuffled), per_challenge=2, sample_seed=7))
    assert {row["prompt_id"] for row in again} == {row["prompt_id"] for row in first}
    picks = {seed: {row["prompt_id"] for row in load_prompts(parti(per_challenge=1, sample_seed=seed))}
             for seed in range(4)}
    assert len({frozenset(p) for p in picks.values()}) > 1


# computed apart from the loader: order by sha256(f"{seed}:{prompt_id}"), take the head, keep file order
PINNED_PER_CHALLENGE = ["78649996018af23f", "d07743a171456c1d"]  # the PEACE panda; BE EXCELLENT
PINNED_LIMIT = ["78649996018af23f", "3106fc6bc33eb3ed", "16802e5f52c6c67d"]


def test_sampling_is_pinned():
    """The chosen prompts must not move between versions: a spec is rerun months later."""
    rows = load_prompts(parti(challenges=["Complex", "Writing & Symbols"], per_challenge=1, sample_seed=0))
    assert [row["prompt_id"] for row in rows] == PINNED_PER_CHALLENGE
    assert [row["prompt_id"] for row in load_prompts(parti(limit=3, sample_seed=1))] == PINNED_LIMIT


def test_limit_takes_a_seeded_sample_in_file_order():
    everything = load_prompts(parti())
    rows = load_prompts(parti(limit=5, sample_seed=3))
    assert len(rows) == 5 and rows == load_prompts(parti(limit=5, sample_seed=3))
    positions = [everything.index(row) for row in rows]
    assert positions == sorted(positions) and positions != list(range(5))
    assert load_prompts(parti(limit=500)) == everything
    both = load_prompts(parti(per_challenge=3, limit=4))
    assert len(both) == 4 and all(row in load_prompts(parti(per_challenge=3)) for row in both)


# ---- errors: one line naming the input and the fix ------------------------------------------------

@pytest.mark.parametrize("name, payload, expected", [
    ("garbage.csv", bytes(range(256)) * 4, "binary data"),
    ("latin1.txt", "café au lait\n".encode("latin-1"), "not UTF-8 text"),
    ("empty.tsv", b"", "file is empty"),
    ("blank.txt", b"\n  \n\t\n", "file is empty"),
    ("commas.csv", b",,,\n,,\n", "file is empty"),
    ("header.tsv", b"Prompt\tCategory\n", "no prompts found"),
    ("nocol.csv", b"foo,bar\n1,2\n", "no prompt column (found: foo, bar); pass columns: {prompt: ...}"),
    ("wide.tsv", b"Prompt\tCategory\na cat\tAnimals\textra\n", "line 2 has 3 fields"),
    ("bad.jsonl", b'{"prompt": "a"}\n{"prompt": \n', "line 2 is not JSON"),
    ("bad.json", b'{"prompt": "a"}', "expected a JSON list"),
    ("mixed.json", b'["a", {"prompt": "b"}]', "every item must be an object"),
    ("bad.parquet", b"PAR1 not really", "not a readable Parquet file"),
    ("prompts.md", b"# prompts\n", "unsupported file type '.md'"),
    ("list.jsonl", b'{"prompt": ["a", "b"]}\n', "holds list values"),
])
def test_bad_files_name_the_file(tmp_path, name, payload, expected):
    path = tmp_path / name
    path.write_bytes(payload)
    message = bad_input(PromptsSpec(source="file", path=str(path)))
    assert str(path) in message and expected in message


def test_missing_inputs_name_the_path(tmp_path):
    message = bad_input(PromptsSpec(source="file", path="nowhere/prompts.tsv"), tmp_path)
    assert str(tmp_path / "nowhere" / "prompts.tsv") in message and "file not found" in message
    assert "file not found" in bad_input(PromptsSpec(source="file", path="owner/name"), tmp_path)
    assert "is a folder" in bad_input(PromptsSpec(source="file", path=str(tmp_path)))
    assert "needs a path" in bad_input(PromptsSpec(source="file"))
    message = bad_input(PromptsSpec(source="drawbench", path=str(DRAWBENCH_LIKE), columns={"prompt": "Text"}))
    assert "column 'Text' (columns.prompt) not found (found: Prompt, Category)" in message


def test_filter_errors_list_what_exists():
    message = bad_input(parti(challenges=["Basik"]))
    assert str(PARTI_SAMPLE) in message and "unknown challenge ['Basik']" in message
    assert "Basic, Complex, Fine-grained Detail" in message
    message = bad_input(parti(categories=["Animals", "Robots"]))
    assert "unknown category ['Robots']" in message and "World Knowledge" in message
    message = bad_input(parti(challenges=["Basic"], categories=["Vehicles"]))
    assert message.endswith("no prompts left after filtering (challenges=['Basic'], "
                            "categories=['Vehicles']); loosen the filter")
    message = bad_input(PromptsSpec(source="drawbench", path=str(DRAWBENCH_LIKE), challenges=["Basic"]))
    assert "(available: none: this set has no challenge column)" in message
    message = bad_input(PromptsSpec(source="drawbench", path=str(DRAWBENCH_LIKE), per_challenge=2))
    assert str(DRAWBENCH_LIKE) in message and "per_challenge needs a challenge column" in message
