"""Real reference images for FID/KID as (source, raw bytes): a folder, a Parquet file or a hub dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from artifacts.errors import BadInput
from artifacts.images import png_bytes
from tasks.inputs.hub import load_dataset, looks_like_hub_id
from tasks.spec import ReferenceSpec

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_HINT = "point reference.path at a folder of images, a Parquet file, or a hub dataset id"


def reference_images(spec: ReferenceSpec, base_dir: str | Path = ".") -> list[tuple[str, bytes]]:
    """The reference images as (source name, encoded bytes), in sorted/row order, at most `limit`."""
    return [(source, data) for source, data, _ in reference_images_with_labels(spec, base_dir)]


def reference_images_with_labels(
    spec: ReferenceSpec, base_dir: str | Path = "."
) -> list[tuple[str, bytes, str | None]]:
    """Like reference_images, plus a label: `label_column` of a table, or the first sub-folder of a folder."""
    local = Path(base_dir) / Path(spec.path).expanduser()
    if local.is_dir():
        images = _folder_images(local, spec)
    elif local.is_file():
        images = _parquet_images(local, spec)
    elif not looks_like_hub_id(spec.path, bare=True):
        raise BadInput(f"reference: {spec.path} not found (looked in {local}); {_HINT}")
    else:
        images = _hub_images(spec)
    if not images:
        raise BadInput(f"reference: no images in {spec.path}; {_HINT} ({', '.join(IMAGE_EXTENSIONS)})")
    return images


def _folder_images(folder: Path, spec: ReferenceSpec) -> list[tuple[str, bytes, str | None]]:
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    if not files:
        tables = sorted(folder.rglob("*.parquet"))
        if tables:
            # A downloaded hub snapshot: a folder of Parquet shards read in name order.
            rows = [row for table in tables for row in _parquet_images(table, spec)]
            return rows[: spec.limit] if spec.limit else rows
    files = files[: spec.limit] if spec.limit else files
    out = []
    for path in files:
        rel = path.relative_to(folder)
        label = rel.parts[0] if len(rel.parts) > 1 else None
        source = f"{spec.path}/{rel.as_posix()}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadInput(f"{source}: cannot read file ({exc.strerror}); fix its permissions or remove it") from None
        out.append((source, data, label))
    return out


def _parquet_images(path: Path, spec: ReferenceSpec) -> list[tuple[str, bytes, str | None]]:
    try:
        schema_names = pq.read_schema(path).names
    except Exception as exc:
        raise BadInput(f"reference: {path} is not a folder or a Parquet file ({type(exc).__name__}); {_HINT}") from None
    columns = [spec.image_column] + ([spec.label_column] if spec.label_column else [])
    missing = [c for c in columns if c not in schema_names]
    if missing:
        raise BadInput(
            f"reference {path}: column '{missing[0]}' missing (found: {', '.join(schema_names)}); "
            "set reference.image_column / reference.label_column"
        )
    table = _read_rows(path, columns, spec.limit)
    cells = table.column(spec.image_column).to_pylist()
    labels = table.column(spec.label_column).to_pylist() if spec.label_column else [None] * len(cells)
    return [
        (f"{path.name}[{i}]", _cell_bytes(cell, f"{path.name}[{i}]", path.parent), _label(label))
        for i, (cell, label) in enumerate(zip(cells, labels))
    ]


def _read_rows(path: Path, columns: list[str], limit: int | None) -> pa.Table:
    """The first `limit` rows (all when None), reading no more row batches than needed."""
    if limit is None:
        return pq.read_table(path, columns=columns)
    batches, rows = [], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=min(limit, 1024), columns=columns):
        batches.append(batch)
        rows += batch.num_rows
        if rows >= limit:
            break
    if not batches:
        return pq.read_schema(path).empty_table()
    return pa.Table.from_batches(batches).slice(0, limit)


def _cell_bytes(cell: Any, source: str, base: Path) -> bytes:
    """Bytes from a binary cell or a datasets Image struct {"bytes": ..., "path": ...}."""
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return bytes(cell["bytes"])
        if cell.get("path"):
            path = Path(cell["path"]) if Path(cell["path"]).is_absolute() else base / cell["path"]
            if path.is_file():
                return path.read_bytes()
            raise BadInput(
                f"reference {source}: image file {cell['path']} not found; store the image bytes in the table"
            )
    raise BadInput(
        f"reference {source}: image cell is {type(cell).__name__}, not bytes or {{bytes, path}}; "
        "set reference.image_column to the image column"
    )


def _label(value: Any) -> str | None:
    return None if value is None else str(value)


def _hub_images(spec: ReferenceSpec) -> list[tuple[str, bytes, str | None]]:
    import datasets

    try:
        ds = load_dataset(spec.path, spec.split)
    except Exception as exc:  # offline (ConnectionError, LocalEntryNotFoundError), unknown id or split
        raise BadInput(
            f"reference: hub dataset {spec.path} (split {spec.split}) not available ({type(exc).__name__}); "
            "download it while online (it is then cached) or save it as a folder/Parquet file and set reference.path"
        ) from None
    columns = [spec.image_column] + ([spec.label_column] if spec.label_column else [])
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise BadInput(
            f"reference {spec.path}: column '{missing[0]}' missing (found: {', '.join(ds.column_names)}); "
            "set reference.image_column / reference.label_column"
        )
    if spec.limit:
        ds = ds.select(range(min(spec.limit, len(ds))))
    if isinstance(ds.features[spec.image_column], datasets.Image):
        ds = ds.cast_column(spec.image_column, datasets.Image(decode=False))
    out = []
    for i, row in enumerate(ds):
        source = f"{spec.path}[{spec.split}][{i}]"
        label = _label(row[spec.label_column]) if spec.label_column else None
        out.append((source, _cell_bytes(row[spec.image_column], source, Path(".")), label))
    return out


# Ten classes a person can tell apart at a glance: (name, shape, RGB colour).
_CLASSES = [
    ("red_circle", "circle", (220, 40, 40)),
    ("green_circle", "circle", (40, 180, 60)),
    ("blue_square", "square", (40, 70, 220)),
    ("yellow_square", "square", (230, 210, 40)),
    ("purple_triangle", "triangle", (150, 50, 190)),
    ("orange_triangle", "triangle", (240, 140, 30)),
    ("cyan_cross", "cross", (40, 200, 210)),
    ("white_cross", "cross", (240, 240, 240)),
    ("black_ring", "ring", (20, 20, 20)),
    ("pink_ring", "ring", (240, 120, 180)),
]


def procedural_reference_set(out_dir: Path, per_class: int = 8, size: int = 64, seed: int = 0,
                             names: list[str] | None = None) -> Path:
    """Write a deterministic set of shape images as out_dir/<class>/<index>.png; returns out_dir.

    `names` relabels the ten classes (e.g. with ImageNet labels, so a class-conditioned demo can
    score per class); by default they are named after their shapes.
    """
    out_dir = Path(out_dir)
    for class_index, (name, shape, colour) in enumerate(_CLASSES):
        folder = out_dir / (names[class_index] if names else name)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rng = np.random.default_rng([seed, class_index, i])
            (folder / f"{i:04d}.png").write_bytes(png_bytes(_shape_image(rng, shape, colour, size)))
    return out_dir


def _shape_image(rng: np.random.Generator, shape: str, colour: tuple[int, int, int], size: int) -> Image.Image:
    """One shape of jittered size, position and colour on a noisy grey background."""
    noise = rng.normal(128, 24, size=(size, size, 1)) + rng.normal(0, 8, size=(1, 1, 3))
    img = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8))  # grey noise, slightly tinted
    draw = ImageDraw.Draw(img)
    radius = size * rng.uniform(0.18, 0.32)
    cx, cy = size * rng.uniform(0.35, 0.65, size=2)
    fill = tuple(int(np.clip(c + rng.normal(0, 15), 0, 255)) for c in colour)
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=fill)
    elif shape == "cross":
        width = radius / 3
        draw.rectangle((cx - width, cy - radius, cx + width, cy + radius), fill=fill)
        draw.rectangle((cx - radius, cy - width, cx + radius, cy + width), fill=fill)
    else:
        draw.ellipse(box, outline=fill, width=max(2, int(radius / 3)))
    return img
