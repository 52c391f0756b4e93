"""RunContext: a prepared run and its store, handed to the extract and score stages and to every metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from artifacts.store import Store, image_rel
from artifacts import features
from tasks.values.extraction import Extractor, Job
from tasks.values.units import Condition, Item, Variant

if TYPE_CHECKING:
    from tasks.spec import EvalSpec


@dataclass(frozen=True)
class RunContext:
    """What the stages after generation read: the plan, the store, and each item's image (by content hash)."""

    store: Store
    prepared: Any  # a tasks.plan.prepare.Prepared: the layer above this one, named but not imported
    image_sha: dict[str, str]  # item key -> sha256 of its PNG, from the generation rows
    run_id: str = ""

    @property
    def spec(self) -> "EvalSpec":
        return self.prepared.spec

    @property
    def items(self) -> tuple[Item, ...]:
        return self.prepared.items

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.prepared.conditions

    @property
    def variants(self) -> tuple[Variant, ...]:
        return self.prepared.variants

    @property
    def device(self) -> str:
        """Where extractors run: the first variant's device (one machine runs one run)."""
        return self.prepared.variants[0].device

    def condition(self, item: Item) -> Condition:
        return self.prepared.condition_map[item.condition_id]

    def options(self, metric: str) -> dict[str, Any]:
        """A plug-in metric's options from the spec's `metrics.options.<name>` ({} when absent)."""
        return dict(self.spec.metrics.options.get(metric, {}))

    def generated_images(self) -> dict[str, str]:
        """Every generated image of the run: content sha256 -> store path."""
        return {self.image_sha[i.key]: image_rel(i.key) for i in self.items}

    def image_job(self, extractor: Extractor) -> Job:
        """`extractor` over every generated image of the run."""
        return Job(extractor, self.generated_images())

    def gather(self, extractor: Extractor, shas: list[str]) -> dict[str, np.ndarray]:
        """Cached features of `shas` in that order (extracted by the extract stage before scoring)."""
        return features.gather(self.store, extractor.fingerprint, shas)

    def item_features(self, extractor: Extractor) -> dict[str, np.ndarray]:
        """Cached features of each item's generated image, rows in `items` order."""
        return self.gather(extractor, [self.image_sha[i.key] for i in self.items])
