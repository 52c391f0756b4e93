"""Prompt sets for text-to-image: built-in, PartiPrompts, DrawBench, local files and hub datasets.

Every source becomes rows {prompt_id, text, category, challenge} (category/challenge may be None).
- `source: parti` with no path reads the PartiPrompts.tsv shipped in tasks/inputs/data (Apache-2.0, see
  tasks/inputs/data/NOTICE), so it works offline; with a hub id path (PARTI_HUB) it reads the hub's TSV.
  DrawBench states no licence, so it is not shipped: its default is the hub copy DRAWBENCH_HUB.
- Texts and labels are stripped of surrounding whitespace: CLIP tokenizers drop it anyway, so the
  pixels do not change, and copies of a set that differ only in stray spaces get the same ids.
- prompt_id is a content hash, so a text that appears twice is one prompt: the first row wins.
  (PartiPrompts 2022-06-21 has 0 duplicate texts in 1632 rows, DrawBench 0 in 200.)
- TSV is read without quoting (as PartiPrompts is published: quotes are literal characters);
  CSV with standard quoting (as DrawBench is).
- Sampling orders prompts by sha256(sample_seed, prompt_id): the same on every Python and numpy
  version and whatever the file order. per_challenge takes the first N of each challenge in that
  order, then limit takes the first N of what is left in that order (a seeded sample, not the
  file's head). The chosen prompts come back in file order.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa

from artifacts.errors import BadInput
from artifacts.keys import sha256_text
from tasks.inputs.builtin_prompts import BUILTIN_PROMPTS
from tasks.inputs.genai_bench import genai_bench_rows
from tasks.inputs.geneval_prompts import geneval_rows
from tasks.inputs.hub import looks_like_hub_id
from tasks.inputs.prompt_files import (FILE_SUFFIXES, PARTI_HUB_FILE, Table, columns_to_roles, datasets_to_table, file_to_table,
                                 parti_hub_to_table, shipped_parti_to_table)
from tasks.spec import PromptsSpec

PROMPT_COLUMNS = ("prompt_id", "text", "category", "challenge")
PROMPTS_SCHEMA = pa.schema([(name, pa.string()) for name in PROMPT_COLUMNS])
PARTI_HUB = "nateraw/parti-prompts"
DRAWBENCH_HUB = "sayakpaul/drawbench"



def prompt_id_of(text: str) -> str:
    """The prompt's content id: the first 16 hex characters of sha256 of its UTF-8 text."""
    return sha256_text(text)[:16]


def builtin_prompts() -> list[dict]:
    """The built-in set (tasks/inputs/builtin_prompts.py) as prompt rows."""
    return [_row(text, category, challenge) for text, category, challenge in BUILTIN_PROMPTS]


def load_prompts(spec: PromptsSpec, base_dir: str | Path = ".") -> list[dict]:
    """The prompt rows a PromptsSpec selects: read, deduplicated, filtered, then sampled."""
    if spec.source == "builtin":
        name, rows = "prompts: builtin", builtin_prompts()
    elif spec.source == "geneval":  # the shipped GenEval set: its task as the challenge
        name, rows = "prompts: geneval", [_row(text, None, tag) for text, tag in geneval_rows()]
    elif spec.source == "genai-bench":  # GenAI-Bench: its tier as the challenge, its skills as groups skill:<name>
        name = "prompts: genai-bench"
        rows = [{**_row(text, None, tier), "skills": list(skills)} for text, tier, skills in genai_bench_rows(spec.path, Path(base_dir))]
    else:
        name, (columns, records) = spec_to_table(spec, Path(base_dir))
        rows = table_to_prompts(columns, records, spec.columns, name)
    rows = prompts_to_unique(rows)
    rows = prompts_to_filtered(rows, spec, name)
    return prompts_to_sample(rows, spec, name)


def spec_to_table(spec: PromptsSpec, base_dir: Path) -> tuple[str, Table]:
    """Read the spec's source: (its name for messages, (columns, records))."""
    if spec.source == "parti" and spec.path is None:
        return "prompts: parti (the shipped PartiPrompts.tsv)", shipped_parti_to_table()
    value = spec.path or {"drawbench": DRAWBENCH_HUB}.get(spec.source)
    if value is None:
        raise BadInput(f"prompts: source {spec.source} needs a path; set prompts.path to a local "
                       f"{'/'.join(FILE_SUFFIXES)} file{' or a hub dataset id' if spec.source == 'hf' else ''}")
    candidate = Path(value).expanduser()
    local = (candidate if candidate.is_absolute() else base_dir / candidate).resolve()
    if spec.source == "file" or not _is_hub_id(value, local):
        name = f"prompts: {local}"
        if local.is_dir() and spec.source != "file":
            if spec.source == "parti" and (local / PARTI_HUB_FILE).is_file():
                return name, file_to_table(local / PARTI_HUB_FILE)
            return name, datasets_to_table(str(local), spec.split, spec.columns, folder=True)
        return name, file_to_table(local)
    if spec.source == "parti":
        return f"prompts: hub dataset '{value}'", parti_hub_to_table(value, spec.split, spec.columns)
    return f"prompts: hub dataset '{value}'", datasets_to_table(value, spec.split, spec.columns)


def _is_hub_id(value: str, local: Path) -> bool:
    """A path that is not on disk and looks like a hub id (tasks/inputs/hub.py) is one."""
    return not local.exists() and looks_like_hub_id(value)


def table_to_prompts(columns: list[str], records: list[dict], mapping: dict[str, str], name: str) -> list[dict]:
    """Records as prompt rows; rows with a blank prompt are skipped (blank lines, empty cells)."""
    roles = columns_to_roles(columns, mapping, name)
    rows = []
    for record in records:
        text = _clean(record.get(roles["prompt"]), roles["prompt"], name)
        if text is not None:
            category, challenge = (_clean(record.get(roles[r]), roles[r], name) if roles[r] else None
                                   for r in ("category", "challenge"))
            rows.append(_row(text, category, challenge))
    if not rows:
        raise BadInput(f"{name}: no prompts found (only a header or blank '{roles['prompt']}' cells); "
                       "add prompts or fix prompts.path")
    return rows


def _clean(value: Any, column: str | None, name: str) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, (str, int, float)):
        raise BadInput(f"{name}: column '{column}' holds {type(value).__name__} values, not text; "
                       "map a text column with columns: {...}")
    return str(value).strip() or None


def _row(text: str, category: str | None, challenge: str | None) -> dict:
    return {"prompt_id": prompt_id_of(text), "text": text, "category": category, "challenge": challenge}


def prompts_to_unique(rows: list[dict]) -> list[dict]:
    """One row per prompt_id (the first); a duplicated text would otherwise be scored twice."""
    unique: dict[str, dict] = {}
    for row in rows:
        unique.setdefault(row["prompt_id"], row)
    return list(unique.values())


def prompts_to_filtered(rows: list[dict], spec: PromptsSpec, name: str) -> list[dict]:
    """Keep the prompts whose challenge and category are in the spec's lists (None: no filter)."""
    kept = rows
    for role, wanted in (("challenge", spec.challenges), ("category", spec.categories)):
        if wanted is None:
            continue
        wanted = [w.strip() for w in wanted]
        available = sorted({row[role] for row in rows if row[role]})
        unknown = [w for w in wanted if w not in available]
        if unknown:
            listing = ", ".join(available) or f"none: this set has no {role} column"
            raise BadInput(f"{name}: unknown {role} {unknown} (available: {listing}); fix prompts.{role}s")
        kept = [row for row in kept if row[role] in wanted]
    if not kept:
        used = ", ".join(f"{k}={v}" for k, v in (("challenges", spec.challenges),
                                                   ("categories", spec.categories)) if v is not None)
        raise BadInput(f"{name}: no prompts left after filtering ({used}); loosen the filter")
    return kept


def prompts_to_sample(rows: list[dict], spec: PromptsSpec, name: str) -> list[dict]:
    """Seeded subset: per_challenge N of each challenge, then limit N; returned in file order."""
    chosen = rows
    if spec.per_challenge is not None:
        if all(row["challenge"] is None for row in rows):
            raise BadInput(f"{name}: per_challenge needs a challenge column (this set has none); use "
                           "limit, or map one with columns: {challenge: ...}")
        groups: dict[str | None, list[dict]] = {}
        for row in rows:  # why: prompts without a challenge form their own group rather than vanish
            groups.setdefault(row["challenge"], []).append(row)
        chosen = [row for group in groups.values()
                  for row in _seeded_order(group, spec.sample_seed)[: spec.per_challenge]]
    if spec.limit is not None:
        chosen = _seeded_order(chosen, spec.sample_seed)[: spec.limit]
    keep = {row["prompt_id"] for row in chosen}
    return [row for row in rows if row["prompt_id"] in keep]


def _seeded_order(rows: list[dict], seed: int) -> list[dict]:
    # why a hash and not random.shuffle: Python only promises random() streams across versions
    return sorted(rows, key=lambda row: sha256_text(f"{seed}:{row['prompt_id']}"))
