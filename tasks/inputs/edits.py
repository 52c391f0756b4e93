"""Edit sets (source image + input caption + edit instruction + output caption) and the source-image rule."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from PIL import Image, ImageDraw, ImageOps

from artifacts.errors import BadInput
from artifacts.images import png_bytes
from artifacts.keys import key_of, sha256_bytes
from tasks.inputs.hub import load_dataset
from tasks.spec import EditsSpec

ROLES = ("image", "input", "edit", "output")
CAPTIONS = ("input", "edit", "output")
TABLE_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")
RESIZE_RULES = ("center-crop", "stretch")


def edit_row(image_bytes: bytes, input_caption: str, edit: str, output_caption: str) -> dict:
    """One edit-set row; edit_id hashes the source content and the three texts."""
    image_sha = sha256_bytes(image_bytes)
    texts = {"input": input_caption, "edit": edit, "output": output_caption}
    ident = key_of({"image_sha256": image_sha, **texts})[:16]
    return {"edit_id": ident, "image_bytes": image_bytes, "image_sha256": image_sha, **texts}


def bytes_to_rgb_png(data: bytes) -> bytes:
    """Source bytes → PNG bytes of an 8-bit RGB image (RGB PNGs stay byte for byte as given).

    Keeping RGB PNGs verbatim keeps their sha256 (and so every cache key built on it) independent of
    the local PNG encoder; anything else is decoded as diffusers' load_image does (EXIF orientation
    applied, converted to RGB) and re-encoded with fixed settings.
    """
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        if img.format == "PNG" and img.mode == "RGB" and img.getexif().get(0x0112, 1) == 1:
            return bytes(data)
        rgb = ImageOps.exif_transpose(img).convert("RGB")
    return png_bytes(rgb)


def source_to_generation_image(image_bytes: bytes, width: int, height: int, rule: str) -> Image.Image:
    """The source as a pipeline gets it at width x height: "center-crop" (cover, then crop) or "stretch"."""
    if rule not in RESIZE_RULES:
        raise BadInput(f"edits.resize '{rule}': unknown rule; use center-crop or stretch")
    with Image.open(io.BytesIO(image_bytes)) as img:
        src = img.convert("RGB")
    if rule == "stretch":
        return src.resize((width, height), Image.Resampling.BICUBIC)
    scale = max(width / src.width, height / src.height)
    # max() guards against rounding a side to one pixel short of the target.
    new_w, new_h = max(width, round(src.width * scale)), max(height, round(src.height * scale))
    scaled = src.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return scaled.crop((left, top, left + width, top + height))


def load_edits(spec: EditsSpec, base_dir: str | Path) -> list[dict]:
    """The edit set a spec names, as rows with PNG source bytes, deduplicated by edit_id, first `limit`."""
    if spec.source == "builtin":
        rows = builtin_edits()
        return rows[: spec.limit] if spec.limit else rows
    if not spec.path:
        raise BadInput(f"edits.path: missing for source {spec.source}; give a table file/folder or a hub dataset id")
    columns = _column_mapping(spec.columns)
    if spec.source == "hf":
        name, records, found, base = _hf_records(spec.path, spec.split, columns["image"], base_dir)
    else:
        name, records, found, base = _file_records(spec.path, base_dir)
    for role in ROLES:
        if columns[role] not in found:
            raise BadInput(
                f"edits '{name}': column '{columns[role]}' missing (found: {', '.join(found)}); "
                f"map it with columns: {{{role}: <column name>}}"
            )
    rows = _records_to_rows(name, records, columns, base, spec.limit)
    if not rows:
        raise BadInput(f"edits '{name}': the edit set is empty; add rows (image, input, edit, output) or point edits.path elsewhere")
    return rows


def _column_mapping(columns: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(columns) - set(ROLES))
    if unknown:
        raise BadInput(f"edits.columns: unknown role(s) {unknown}; use image, input, edit, output")
    return {role: columns.get(role, role) for role in ROLES}


def _records_to_rows(name: str, records: Iterable[dict], columns: dict[str, str], base: Path, limit: int | None) -> list[dict]:
    rows: dict[str, dict] = {}
    for number, record in enumerate(records, start=1):
        texts = {}
        for role in CAPTIONS:
            value = record.get(columns[role])
            if not isinstance(value, str) or not value.strip():
                raise BadInput(f"edits '{name}' row {number}: column '{columns[role]}' is empty; give every row a non-empty {role} text")
            texts[role] = value
        data = _image_bytes(name, number, record.get(columns["image"]), base)
        row = edit_row(data, texts["input"], texts["edit"], texts["output"])
        rows.setdefault(row["edit_id"], row)  # a repeated row would only repeat the same generation keys
        if limit and len(rows) >= limit:
            break
    return list(rows.values())


def _image_bytes(name: str, number: int, value: Any, base: Path) -> bytes:
    """A table cell (path, bytes, {"bytes","path"} struct, base64 or PIL image) → RGB PNG bytes."""
    where = f"edits '{name}' row {number}"
    path: str | None = None
    data: bytes | None = None
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, str):  # JSON cannot hold raw bytes: accept base64 there
            data = base64.b64decode(data)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, str):
        path = value
    elif isinstance(value, Image.Image):
        data = png_bytes(value)
    if not data:
        if not path:
            raise BadInput(f"{where}: no image (got {type(value).__name__}); give an image path, bytes or a {{bytes, path}} struct")
        full = Path(path).expanduser()
        full = full if full.is_absolute() else base / full
        try:
            data = full.read_bytes()
        except OSError as exc:
            raise BadInput(f"{where}: image '{path}' unreadable ({type(exc).__name__}: {full}); fix the path (relative paths resolve against the table's folder)") from None
    try:
        return bytes_to_rgb_png(data)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        label = f"'{path}'" if path else "bytes"
        raise BadInput(f"{where}: image {label} is not a readable image ({type(exc).__name__}); replace it with a PNG or JPEG") from None


def _table_file(path: str, base_dir: str | Path) -> Path:
    full = Path(path).expanduser()
    full = full if full.is_absolute() else Path(base_dir) / full
    if full.is_dir():
        tables = sorted(p for p in full.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
        if len(tables) != 1:
            listed = ", ".join(p.name for p in tables) or "none"
            raise BadInput(f"edits.path '{path}': folder must hold exactly one table file {TABLE_SUFFIXES} (found: {listed}); point edits.path at the file")
        return tables[0]
    if not full.is_file():
        raise BadInput(f"edits.path '{path}': not found ({full}); fix the path (relative paths resolve against the spec file)")
    if full.suffix.lower() not in TABLE_SUFFIXES:
        raise BadInput(f"edits.path '{path}': unsupported table type '{full.suffix}'; use .csv, .jsonl or .parquet")
    return full


def _file_records(path: str, base_dir: str | Path) -> tuple[str, list[dict], list[str], Path]:
    """Read a CSV / JSONL / Parquet edit table: (name, records, column names, folder for relative paths)."""
    table = _table_file(path, base_dir)
    suffix = table.suffix.lower()
    try:
        if suffix == ".csv":
            with open(table, newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                records, found = list(reader), list(reader.fieldnames or [])
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            arrow = pq.read_table(table)
            records, found = arrow.to_pylist(), list(arrow.column_names)
        else:
            records = [json.loads(line) for line in table.read_text(encoding="utf-8").splitlines() if line.strip()]
            if not all(isinstance(r, dict) for r in records):
                raise ValueError("every line must be a JSON object")
            found = list(dict.fromkeys(k for r in records for k in r))
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise BadInput(f"edits '{table}': unreadable table ({type(exc).__name__}: {str(exc)[:120]}); fix or re-export the file") from None
    return str(table), records, found, table.parent


def _hf_records(path: str, split: str, image_column: str, base_dir: str | Path) -> tuple[str, Iterator[dict], list[str], Path]:
    """A hub (or local) dataset via datasets.load_dataset, image column kept as stored bytes."""
    import datasets

    local = Path(base_dir) / path
    where = str(local.resolve()) if local.exists() else path
    try:
        ds = load_dataset(where, split)
    except ValueError as exc:
        if "split" not in str(exc).lower():
            raise BadInput(f"edits '{path}': cannot load the dataset ({str(exc)[:160]}); check edits.path") from None
        raise BadInput(f"edits '{path}': no split '{split}' ({str(exc)[:160]}); set edits.split to one of its splits") from None
    except Exception as exc:  # the hub client raises many types for "offline" / "not found"
        raise BadInput(
            f"edits '{path}': dataset unreachable ({type(exc).__name__}: offline or not found); "
            "download it first (HF cache), or export it to a local .parquet and use source: file"
        ) from None
    if isinstance(ds.features.get(image_column), datasets.Image):
        # Undecoded cells keep the dataset's own bytes, so their sha256 does not depend on our encoder.
        ds = ds.cast_column(image_column, datasets.Image(decode=False))
    return path, iter(ds), list(ds.column_names), Path(base_dir)


_STAR = [(32, 6), (38, 24), (58, 24), (42, 36), (48, 56), (32, 44), (16, 56), (22, 36), (6, 24), (26, 24)]
# (background, [(ImageDraw method, geometry, fill), ...]) per builtin source, drawn on a 64x64 canvas.
_BUILTIN_DRAWINGS = [
    ("white", [("ellipse", (12, 12, 52, 52), "red")]),
    ("white", [("rectangle", (14, 14, 50, 50), "blue")]),
    ("white", [("polygon", [(32, 8), (56, 54), (8, 54)], "green")]),
    ("navy", [("polygon", _STAR, "yellow")]),
    ("white", [("rectangle", (0, top, 63, top + 7), "black") for top in range(0, 64, 16)]),
    ("white", [("rectangle", (26, 8, 38, 56), "gray"), ("rectangle", (8, 26, 56, 38), "gray")]),
    ("skyblue", [("rectangle", (0, 40, 63, 63), "blue"), ("chord", (18, 26, 46, 54), "orange")]),
    ("white", [("ellipse", (22, 4, 42, 24), "orange"), ("rectangle", (20, 32, 44, 58), "purple")]),
]


def _draw(background: str, shapes: list[tuple]) -> Image.Image:
    img = Image.new("RGB", (64, 64), background)
    draw = ImageDraw.Draw(img)
    for method, geometry, fill in shapes:
        if method == "chord":  # the upper half of a disc: a sun on the horizon
            draw.chord(geometry, 180, 360, fill=fill)
        else:
            getattr(draw, method)(geometry, fill=fill)
    return img


_BUILTIN_TEXTS = [
    ("a red circle on a white background", "make the circle blue", "a blue circle on a white background"),
    ("a blue square on a white background", "turn the square into a circle", "a blue circle on a white background"),
    ("a green triangle on a white background", "make the background black", "a green triangle on a black background"),
    ("a yellow star on a dark blue background", "make the star red", "a red star on a dark blue background"),
    ("black and white horizontal stripes", "make the stripes vertical", "black and white vertical stripes"),
    ("a grey cross on a white background", "make the cross green", "a green cross on a white background"),
    ("an orange sun setting over blue water under a light blue sky", "make it night",
     "a white moon over dark blue water under a black night sky"),
    ("an orange circle above a purple square", "swap the colors of the shapes", "a purple circle above an orange square"),
]


def builtin_edits() -> list[dict]:
    """The built-in edit set: eight drawn 64x64 sources with our own captions and instructions."""
    images = [_draw(background, shapes) for background, shapes in _BUILTIN_DRAWINGS]
    return [edit_row(png_bytes(img), *texts) for img, texts in zip(images, _BUILTIN_TEXTS)]
