"""Prompt files: TSV (no quoting, as PartiPrompts), CSV (as DrawBench), JSON(L), Parquet, text, hub datasets."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from artifacts.errors import BadInput
from tasks.inputs.hub import DATA_SUFFIXES, cache_only_unless_reachable, load_dataset

PARTI_HUB_FILE = "PartiPrompts.tsv"
FILE_SUFFIXES = DATA_SUFFIXES  # one reader each, below

Table = tuple[list[str], list[dict[str, Any]]]  # column names, records
ROLE_ALIASES = {
    "prompt": ("Prompt", "prompt", "Prompts", "prompts", "text", "caption"),
    "category": ("Category", "category"),
    "challenge": ("Challenge", "challenge"),
}


def shipped_parti_to_table() -> Table:
    """PartiPrompts as shipped in the package (Apache-2.0, tasks/inputs/data/NOTICE): read with no network."""
    with resources.as_file(resources.files(__package__) / "data" / PARTI_HUB_FILE) as path:
        return file_to_table(path)


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
        dataset = load_dataset(path, split)
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


def parti_hub_to_table(repo_id: str, split: str, mapping: dict[str, str]) -> Table:
    """PartiPrompts from the hub: the published TSV read as such, else whatever datasets reads."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    # why not datasets first: its CSV builder reads a leading '"' as quoting and drops it
    try:
        with cache_only_unless_reachable() as reachable:
            local = hf_hub_download(repo_id, PARTI_HUB_FILE, repo_type="dataset", local_files_only=not reachable)
    except LocalEntryNotFoundError:  # offline; a subclass of EntryNotFoundError, so caught first
        raise _load_error(repo_id) from None
    except EntryNotFoundError:  # a copy of the set without the TSV: let datasets read it
        return datasets_to_table(repo_id, split, mapping)
    except Exception:  # why broad: offline, missing repo, gated repo, network errors
        raise _load_error(repo_id) from None
    return file_to_table(Path(local))


def match_columns(columns: list[str], mapping: dict[str, str], role_aliases: dict[str, tuple[str, ...]], name: str,
                  setting: str = "columns") -> dict[str, str | None]:
    """Role -> column: the spec's mapping (`setting`) first, then the first usual name present; None where none is."""
    found = ", ".join(columns) or "none"
    roles: dict[str, str | None] = {}
    for role, aliases in role_aliases.items():
        if role in mapping and mapping[role] not in columns:
            raise BadInput(f"{name}: column '{mapping[role]}' ({setting}.{role}) not found (found: {found}); "
                           f"fix {setting}: {{{role}: ...}}")
        roles[role] = mapping.get(role) or next((c for c in aliases if c in columns), None)
    return roles


def columns_to_roles(columns: list[str], mapping: dict[str, str], name: str) -> dict[str, str | None]:
    """Which column is the prompt, category and challenge: the spec's mapping first, then usual names."""
    found = ", ".join(columns) or "none"
    roles = match_columns(columns, mapping, ROLE_ALIASES, name)
    if roles["prompt"] is None:
        raise BadInput(f"{name}: no prompt column (found: {found}); pass columns: {{prompt: ...}} "
                       "in the prompts section")
    return roles
