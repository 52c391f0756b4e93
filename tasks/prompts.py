"""Prompt sets for text-to-image: built-in, PartiPrompts, DrawBench, local files and hub datasets.

Every source becomes rows {prompt_id, text, category, challenge} (category/challenge may be None).
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

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from artifacts.errors import BadInput
from artifacts.keys import sha256_text
from tasks.builtin_prompts import BUILTIN_PROMPTS
from tasks.spec import PromptsSpec

PROMPT_COLUMNS = ("prompt_id", "text", "category", "challenge")
PROMPTS_SCHEMA = pa.schema([(name, pa.string()) for name in PROMPT_COLUMNS])
PARTI_HUB = "nateraw/parti-prompts"
PARTI_HUB_FILE = "PartiPrompts.tsv"
DRAWBENCH_HUB = "sayakpaul/drawbench"
ROLE_ALIASES = {
    "prompt": ("Prompt", "prompt", "Prompts", "prompts", "text", "caption"),
    "category": ("Category", "category"),
    "challenge": ("Challenge", "challenge"),
}
FILE_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json", ".parquet", ".txt")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

Table = tuple[list[str], list[dict[str, Any]]]  # column names, records


def prompt_id_of(text: str) -> str:
    """The prompt's content id: the first 16 hex characters of sha256 of its UTF-8 text."""
    return sha256_text(text)[:16]


def builtin_prompts() -> list[dict]:
    """The built-in set (tasks/builtin_prompts.py) as prompt rows."""
    return [_row(text, category, challenge) for text, category, challenge in BUILTIN_PROMPTS]


def load_prompts(spec: PromptsSpec, base_dir: str | Path = ".") -> list[dict]:
    """The prompt rows a PromptsSpec selects: read, deduplicated, filtered, then sampled."""
    if spec.source == "builtin":
        name, rows = "prompts: builtin", builtin_prompts()
    else:
        name, (columns, records) = spec_to_table(spec, Path(base_dir))
        rows = table_to_prompts(columns, records, spec.columns, name)
    rows = prompts_to_unique(rows)
    rows = prompts_to_filtered(rows, spec, name)
    return prompts_to_sample(rows, spec, name)


def spec_to_table(spec: PromptsSpec, base_dir: Path) -> tuple[str, Table]:
    """Read the spec's source: (its name for messages, (columns, records))."""
    value = spec.path or {"parti": PARTI_HUB, "drawbench": DRAWBENCH_HUB}.get(spec.source)
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
        return f"prompts: hub dataset '{value}'", _parti_hub_to_table(value, spec.split, spec.columns)
    return f"prompts: hub dataset '{value}'", datasets_to_table(value, spec.split, spec.columns)


def _is_hub_id(value: str, local: Path) -> bool:
    """A path that is not on disk, shaped owner/name and with no data-file suffix, is a hub id."""
    return (not local.exists() and _HUB_ID.fullmatch(value) is not None
            and Path(value).suffix.lower() not in FILE_SUFFIXES)


def file_to_table(path: Path) -> Table:
    """Read a local prompt file by its suffix (.tsv .csv .jsonl .json .parquet .txt)."""
    name = f"prompts: {path}"
    if not path.exists():
        raise BadInput(f"{name}: file not found; fix prompts.path (a relative path resolves against "
                       "the spec file's folder)")
    if path.is_dir():
        raise BadInput(f"{name}: is a folder; pass a {'/'.join(FILE_SUFFIXES)} file, or use source: hf "
                       "to load a dataset folder")
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise BadInput(f"{name}: unsupported file type '{suffix}'; convert it to one of "
                       f"{', '.join(FILE_SUFFIXES)}")
    if suffix == ".parquet":
        return _parquet_to_table(path, name)
    text = _read_text(path, name)
    readers = {".tsv": _tsv_to_table, ".csv": _csv_to_table, ".jsonl": _jsonl_to_table,
               ".json": _json_to_table, ".txt": _txt_to_table}
    return readers[suffix](text, name)


def _read_text(path: Path, name: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{name}: cannot read the file ({exc.strerror}); check its permissions") from None
    if b"\x00" in data:
        raise BadInput(f"{name}: binary data (NUL bytes), not a text file; save the prompts as UTF-8 "
                       "text or pass a .parquet file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{name}: not UTF-8 text (bad byte at offset {exc.start}); re-save the file "
                       "as UTF-8") from None
    if not text.strip():
        raise BadInput(f"{name}: file is empty; add prompts or fix prompts.path")
    return text


def _tsv_to_table(text: str, name: str) -> Table:
    # why QUOTE_NONE: PartiPrompts has no quoting, and '"G I G G L E" painted ...' must keep its quotes
    return _rows_to_table(csv.reader(io.StringIO(text, newline=""), delimiter="\t",
                                     quoting=csv.QUOTE_NONE), name)


def _csv_to_table(text: str, name: str) -> Table:
    return _rows_to_table(csv.reader(io.StringIO(text, newline="")), name)


def _rows_to_table(reader: Any, name: str) -> Table:
    """Header row plus records from a csv reader; short rows are padded, long rows are an error."""
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise BadInput(f"{name}: line {reader.line_num}: {exc}; fix the quoting on that line") from None
    if not rows:
        raise BadInput(f"{name}: file is empty; add prompts or fix prompts.path")
    header = [cell.strip() for cell in rows[0][1]]
    records = []
    for line, row in rows[1:]:
        if len(row) > len(header):
            raise BadInput(f"{name}: line {line} has {len(row)} fields but the header has {len(header)}; "
                           "fix that line (a stray tab or comma?)")
        records.append(dict(zip(header, row)))
    return header, records


def _jsonl_to_table(text: str, name: str) -> Table:
    items = []
    # why split("\n"): splitlines() would also break at U+2028, which JSON strings may hold raw
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BadInput(f"{name}: line {number} is not JSON ({exc.msg}); fix that line") from None
    return _items_to_table(items, name)


def _json_to_table(text: str, name: str) -> Table:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}); fix the file") from None
    if not isinstance(items, list):
        raise BadInput(f"{name}: expected a JSON list of objects or strings, got {type(items).__name__}; "
                       'write [{"prompt": ...}, ...]')
    return _items_to_table(items, name)


def _items_to_table(items: list[Any], name: str) -> Table:
    """JSON items as records: objects keep their keys, bare strings become {'prompt': text}."""
    if all(isinstance(item, str) for item in items):
        return ["prompt"], [{"prompt": item} for item in items]
    if not all(isinstance(item, dict) for item in items):
        raise BadInput(f"{name}: every item must be an object like {{\"prompt\": ...}} (or every item a "
                       "string); fix the mixed items")
    columns = list(dict.fromkeys(key for item in items for key in item))
    return columns, items


def _txt_to_table(text: str, name: str) -> Table:
    lines = [line.strip() for line in io.StringIO(text, newline=None)]
    return ["prompt"], [{"prompt": line} for line in lines if line]


def _parquet_to_table(path: Path, name: str) -> Table:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise BadInput(f"{name}: not a readable Parquet file ({type(exc).__name__}); re-export it or "
                       "use .csv/.jsonl") from None
    return table.column_names, table.to_pylist()


def datasets_to_table(path: str, split: str, mapping: dict[str, str], folder: bool = False) -> Table:
    """A hub dataset id (or a local dataset folder) through datasets.load_dataset, needed columns only."""
    import datasets  # why here: a slow import that only hub sets need

    name = f"prompts: {path}" if folder else f"prompts: hub dataset '{path}'"
    try:
        dataset = datasets.load_dataset(path, split=split)
    except ValueError as exc:
        if "split" not in str(exc).lower():
            raise _load_error(path, folder, exc) from None
        raise BadInput(f"{name}: split '{split}' not found ({_first_line(exc)}); fix prompts.split") from None
    except Exception as exc:  # why broad: datasets raises many types for offline, missing and gated sets
        raise _load_error(path, folder, exc) from None
    roles = columns_to_roles(dataset.column_names, mapping, name)
    used = list(dict.fromkeys(column for column in roles.values() if column))
    dataset = dataset.select_columns(used)
    records = dataset.to_list()
    for column in used:  # why: some hub copies store categories as ClassLabel ints
        feature = dataset.features[column]
        if isinstance(feature, datasets.ClassLabel):
            for record in records:
                if record[column] is not None:
                    record[column] = feature.int2str(record[column])
    return used, records


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _load_error(path: str, folder: bool = False, exc: Exception | None = None) -> BadInput:
    if folder:
        return BadInput(f"prompts: {path}: datasets cannot load this folder ({type(exc).__name__}: "
                        f"{_first_line(exc)}); pass a data file with source: file")
    return BadInput(f"prompts: cannot load hub dataset '{path}' (offline or not found); download it or "
                    "pass a local file with source: file")


def _parti_hub_to_table(repo_id: str, split: str, mapping: dict[str, str]) -> Table:
    """PartiPrompts from the hub: the published TSV read as such, else whatever datasets reads."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    # why not datasets first: its CSV builder reads a leading '"' as quoting and drops it
    try:
        local = hf_hub_download(repo_id, PARTI_HUB_FILE, repo_type="dataset")
    except LocalEntryNotFoundError:  # offline; a subclass of EntryNotFoundError, so caught first
        raise _load_error(repo_id) from None
    except EntryNotFoundError:  # a copy of the set without the TSV: let datasets read it
        return datasets_to_table(repo_id, split, mapping)
    except Exception:  # why broad: offline, missing repo, gated repo, network errors
        raise _load_error(repo_id) from None
    return file_to_table(Path(local))


def columns_to_roles(columns: list[str], mapping: dict[str, str], name: str) -> dict[str, str | None]:
    """Which column is the prompt, category and challenge: the spec's mapping first, then usual names."""
    found = ", ".join(columns) or "none"
    roles: dict[str, str | None] = {}
    for role, aliases in ROLE_ALIASES.items():
        if role in mapping and mapping[role] not in columns:
            raise BadInput(f"{name}: column '{mapping[role]}' (columns.{role}) not found (found: {found}); "
                           f"fix columns: {{{role}: ...}}")
        roles[role] = mapping.get(role) or next((c for c in aliases if c in columns), None)
    if roles["prompt"] is None:
        raise BadInput(f"{name}: no prompt column (found: {found}); pass columns: {{prompt: ...}} "
                       "in the prompts section")
    return roles


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
