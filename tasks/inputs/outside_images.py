"""Images made elsewhere, read as rows: a folder, a manifest (CSV / JSONL / JSON / Parquet) or a hub dataset.

Each row names one image (loaded lazily: a folder of 50k images is not held in memory), what it is an
image of (prompt, class or edit; matched to the run's conditions by the planner), the model that made
it and its seed. The same reader serves a run's outside models (tasks/plan/outside_plan.py) and the `sets`
command (tasks/stages/set_inputs.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from artifacts.errors import BadInput
from artifacts.keys import canonical_json
from tasks.inputs.hub import load_dataset, looks_like_hub_id
from tasks.inputs.prompt_files import FILE_SUFFIXES, file_to_table, match_columns
from tasks.inputs.references import IMAGE_EXTENSIONS
from tasks.spec import ImagesSpec

# Usual column names per role, as prompt files have them; `file_name` is the hub's imagefolder convention.
ROLE_ALIASES = {
    "image": ("image", "file_name", "file", "path", "image_path", "filename", "img"),
    "prompt": ("prompt", "Prompt", "text", "caption"),
    "class": ("class", "label", "class_label", "class_id"),
    "edit": ("edit", "edit_id", "instruction"),
    "model": ("model", "model_name"),
    "seed": ("seed",),
}
# What each task's images are conditioned on: the column that says which condition a row belongs to.
CONDITION_ROLE = {"text-to-image": "prompt", "class-conditional": "class", "image-to-image": "edit"}
METADATA_FILES = ("metadata.csv", "metadata.jsonl", "metadata.parquet")  # the hub's imagefolder convention


@dataclass(frozen=True)
class OutsideRow:
    """One image made elsewhere: its position in the source, the name errors give it, what it shows, who made it."""

    index: int
    source: str
    condition: str | None
    model: str | None
    seed: int | None
    load: Callable[[], bytes]


def read_outside(images: ImagesSpec, base_dir: str, task: str | None, who: str = "images") -> list[OutsideRow]:
    """The rows of an images source, in file / row order (read once per process: the import stage reads them again).

    task None: images only (a set for `diffeval sets`), no prompt, class or edit column needed.
    """
    return _read_cached(canonical_json(images.model_dump()), str(base_dir), task, who)


def forget_reads() -> None:
    """Planning reads every source afresh (a long-lived `serve` process sees new files); the import stage then reuses it."""
    _read_cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _read_cached(images_json: str, base_dir: str, task: str | None, who: str) -> list[OutsideRow]:
    import json

    images = ImagesSpec(**json.loads(images_json))
    local = Path(base_dir) / Path(images.path).expanduser()
    kind = images.source
    if kind == "auto":
        kind = "folder" if local.is_dir() else "file" if local.is_file() else "hf"
    if kind == "hf":
        if not local.exists() and not looks_like_hub_id(images.path, bare=True):
            raise BadInput(f"{who}: {images.path} not found (looked in {local}); point images.path at a folder, a manifest "
                           f"({', '.join(FILE_SUFFIXES)}) or a hub dataset id")
        return _dataset_rows(str(local) if local.exists() else images.path, images, task, who)
    if not local.exists():
        raise BadInput(f"{who}: {local} not found; fix images.path (a relative path resolves against the spec file's folder)")
    if kind == "folder":
        return _folder_rows(local, images, task, who)
    return _manifest_rows(local, images, task, who)


def _folder_rows(folder: Path, images: ImagesSpec, task: str | None, who: str) -> list[OutsideRow]:
    """metadata.csv / .jsonl / .parquet in the folder makes it a manifest; else each image with a sidecar
    `<name>.txt` holding its prompt (or edit), or its first sub-folder naming its class."""
    if not folder.is_dir():
        raise BadInput(f"{who}: {folder} is not a folder; set images.source: file, or point images.path at a folder")
    for name in METADATA_FILES:
        if (folder / name).is_file():
            return _manifest_rows(folder / name, images, task, who)
    files = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                   key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        raise BadInput(f"{who}: no images in {folder} ({', '.join(IMAGE_EXTENSIONS)}); fix images.path")
    rows = []
    for index, path in enumerate(files):
        rel = path.relative_to(folder)
        sidecar = path.with_suffix(".txt")
        if task is None:
            condition = None
        elif task == "class-conditional":
            condition = rel.parts[0] if len(rel.parts) > 1 else None
        else:
            condition = sidecar.read_text(encoding="utf-8").strip() if sidecar.is_file() else None
        rows.append(OutsideRow(index, str(path), condition, None, None, _file_loader(path, who)))
    return rows


def _manifest_rows(path: Path, images: ImagesSpec, task: str | None, who: str) -> list[OutsideRow]:
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise BadInput(f"{who}: {path}: unsupported manifest type '{path.suffix}'; use a folder or one of {', '.join(FILE_SUFFIXES)}")
    try:
        columns, records = file_to_table(path)
    except BadInput as exc:  # the prompt-file readers name the prompts section; here it is the images section
        raise BadInput(str(exc).replace("prompts: ", f"{who}: ", 1).replace("prompts.path", "images.path")) from None
    return _records_to_rows(records, columns, images, task, f"{who}: {path}", path.parent, path.name)


def _dataset_rows(path: str, images: ImagesSpec, task: str | None, who: str) -> list[OutsideRow]:
    """A hub dataset id (or a local dataset folder) through datasets.load_dataset; images kept encoded."""
    import datasets  # why here: a slow import that only hub sources need

    try:
        ds = load_dataset(path, images.split)
    except Exception as exc:  # offline, unknown id or split: datasets raises many types
        raise BadInput(f"{who}: dataset {path} (split {images.split}) not available ({type(exc).__name__}); download it "
                       "while online (it is then cached), or point images.path at a folder or manifest") from None
    for column, feature in ds.features.items():
        if isinstance(feature, datasets.Image):
            ds = ds.cast_column(column, datasets.Image(decode=False))  # bytes as stored: the planner decodes them once
    return _records_to_rows(ds.to_list(), ds.column_names, images, task, f"{who}: {path}", Path("."), f"{path}[{images.split}]")


def _records_to_rows(records: list[dict], columns: list[str], images: ImagesSpec, task: str | None, name: str,
                     base: Path, label: str) -> list[OutsideRow]:
    roles = columns_to_image_roles(columns, images.columns, task, name)
    role = roles.get(CONDITION_ROLE.get(task, ""))
    rows = []
    for index, record in enumerate(records):
        cell = record.get(roles["image"])
        # Errors name the row, and the file where the row names one.
        source = f"{label}[{index}] {cell}" if isinstance(cell, str) else f"{label}[{index}]"
        condition = record.get(role) if role else None
        model = record.get(roles["model"]) if roles["model"] else None
        rows.append(OutsideRow(index, source, None if condition is None else str(condition).strip(),
                               None if model is None else str(model), _seed(record, roles["seed"], source),
                               _cell_loader(cell, source, base)))
    return rows


def columns_to_image_roles(columns: list[str], mapping: dict[str, str], task: str | None, name: str) -> dict[str, str | None]:
    """Which column holds the image, the condition, the model and the seed: the spec's mapping, then usual names."""
    found = ", ".join(columns) or "none"
    roles = match_columns(columns, mapping, ROLE_ALIASES, name, "images.columns")
    for needed in ("image", CONDITION_ROLE[task]) if task else ("image",):
        if roles[needed] is None:
            raise BadInput(f"{name}: no {needed} column (found: {found}); pass images.columns: {{{needed}: COLUMN}}")
    return roles


def _seed(record: dict, column: str | None, source: str) -> int | None:
    value = record.get(column) if column else None
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadInput(f"{source}: seed {value!r} is not an integer; fix the seed column or map another one") from None


def _file_loader(path: Path, who: str) -> Callable[[], bytes]:
    def load() -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise BadInput(f"{who}: {path}: cannot read file ({exc.strerror}); fix its permissions or remove it") from None

    return load


def _cell_loader(cell: Any, source: str, base: Path) -> Callable[[], bytes]:
    """Bytes of an image cell: a path (relative to the manifest's folder), bytes, or a {bytes, path} struct."""
    if isinstance(cell, str):
        path = Path(cell).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise BadInput(f"{source}: image file {cell} not found (looked in {path}); fix the path in the manifest")
        return _file_loader(path, source)
    if isinstance(cell, (bytes, bytearray)):
        return lambda: bytes(cell)
    if isinstance(cell, dict) and cell.get("bytes"):
        return lambda: bytes(cell["bytes"])
    if isinstance(cell, dict) and cell.get("path"):  # a datasets Image struct that keeps the file, not its bytes
        return _cell_loader(cell["path"], source, base)
    raise BadInput(f"{source}: image cell is {type(cell).__name__}, not a path, bytes or {{bytes, path}}; "
                   "map images.columns.image to the image column")
