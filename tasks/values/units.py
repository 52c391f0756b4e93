"""The work units planned once in `prepare`: frozen values that every later stage reads and never re-derives.

Condition: what one image is conditioned on (a prompt, a class, an edit pair) with its groups.
Variant: one model in one sweep cell, with the settings it runs with and those its pipeline ignores.
Item: one image to exist (its generation key, variant, condition, seed and sample index).
GenerationBatch: what a generation worker receives, and nothing else.
OutsideImages: for a model whose images were made elsewhere, where an import worker reads each item's image.

Each has `to_row()` / `from_row()` for Parquet run tables (nested values as JSON text, as the run
tables store them) and pickles as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tasks.values.resolved import ResolvedModel
from tasks.spec import GenerationSpec, ImagesSpec


def _loaded(value: Any) -> Any:
    """A nested value from a run table: JSON text there, a dict or list here."""
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class Condition:
    """One prompt, class or edit pair. `inputs` go into the generation key; `text` is what CLIP scores
    against (or the class label); `groups` name its breakdowns (category:Animals); `meta` is shown."""

    condition_id: str
    inputs: dict[str, Any]
    text: str
    label: str
    groups: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        return {"condition_id": self.condition_id, "text": self.text, "groups": list(self.groups), "meta": self.meta,
                "inputs": self.inputs, "label": self.label}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Condition":
        return cls(row["condition_id"], _loaded(row["inputs"]), row["text"], row["label"], tuple(_loaded(row["groups"])),
                   _loaded(row["meta"]))


@dataclass(frozen=True, slots=True)
class Variant:
    """One model in one sweep cell. `variant_id` is the label `model[k=v,...]` stored run tables use;
    `settings` the effective generation settings; `ignored` the declared or swept settings that its
    pipeline's __call__ does not take (they cannot change its pixels); `taken` the pixel settings it does
    take, decided once at planning: the generation key holds them and the pipeline call gets them."""

    variant_id: str
    model: str
    model_index: int
    cell: dict[str, Any]
    settings: GenerationSpec
    pipeline: str
    device: str
    dtype: str
    ignored: tuple[str, ...] = ()
    taken: tuple[str, ...] = ()

    def to_row(self) -> dict[str, Any]:
        return {"variant": self.variant_id, "model": self.model, "model_index": self.model_index, "cell": self.cell,
                "settings": self.settings.model_dump(), "pipeline": self.pipeline, "device": self.device,
                "dtype": self.dtype, "ignored": list(self.ignored), "taken": list(self.taken)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Variant":
        return cls(row["variant"], row["model"], row["model_index"], _loaded(row["cell"]),
                   GenerationSpec(**_loaded(row["settings"])), row["pipeline"], row["device"], row["dtype"],
                   tuple(_loaded(row["ignored"])), tuple(_loaded(row.get("taken", []))))


@dataclass(frozen=True, slots=True)
class Item:
    """One image that must exist: its generation key and what it is an image of."""

    key: str
    variant_id: str
    model: str
    condition_id: str
    seed: int
    sample_index: int

    def to_row(self) -> dict[str, Any]:
        # `variant` is the column name stored run tables (items.parquet, scores.parquet) have always used.
        return {"key": self.key, "model": self.model, "variant": self.variant_id, "condition_id": self.condition_id,
                "seed": self.seed, "sample_index": self.sample_index}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Item":
        return cls(row["key"], row["variant"], row["model"], row["condition_id"], int(row["seed"]), int(row["sample_index"]))


@dataclass(frozen=True, slots=True)
class OutsideImages:
    """Where a variant's images made elsewhere come from: its images section (read again by the import
    worker) and, per item key, the source row and the sha256 of the PNG planning made of it."""

    images: ImagesSpec
    base_dir: str
    task: str
    who: str
    rows: dict[str, tuple[int, str]]

    def only(self, keys) -> "OutsideImages":
        """The same source, limited to `keys` (what one batch imports)."""
        return OutsideImages(self.images, self.base_dir, self.task, self.who, {k: self.rows[k] for k in keys})


@dataclass(frozen=True, slots=True)
class GenerationBatch:
    """Everything one generation call needs: the variant, its resolved model, the conditions its items
    use and the items. `source_resize` is how an edit's source image becomes the pipeline's input
    (`stretch` or `center-crop`; None when no item has a source image). `outside`: the images are read
    from there instead of generated (a model made elsewhere)."""

    variant: Variant
    model: ResolvedModel
    conditions: tuple[Condition, ...]
    items: tuple[Item, ...]
    source_resize: str | None = None
    outside: OutsideImages | None = None

    def condition_map(self) -> dict[str, Condition]:
        return {c.condition_id: c for c in self.conditions}

    def pipeline_settings(self) -> dict[str, Any]:
        """The pixel settings the pipeline takes, with their values (`Variant.taken`, decided at planning):
        what the generation key holds and what the pipeline call gets."""
        return {name: getattr(self.variant.settings, name) for name in self.variant.taken}
