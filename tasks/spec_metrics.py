"""The spec's `metrics:` section: the settings every run has, and one section per built-in metric.

Each built-in metric declares its own section (its module's `settings`, tasks/metrics/*.py); the
section model is assembled from the registry the first time a spec is validated, so adding a metric
changes nothing here.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from tasks.values.metric import with_settings


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricsBase(Frozen):
    """The settings of every run's metrics; metrics_spec() adds a section per built-in metric."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    inception_weights: str | None = None
    # The FID Inception's own resize to 299: antialias (torchmetrics' default) or tf1 (torch-fidelity's, no antialias).
    inception_resize: Literal["antialias", "tf1"] = "antialias"
    bootstrap: int = Field(default=1000, ge=1000)
    bootstrap_seed: int = 0
    # Set metrics (FID, KID, ...) of a group other than `all` are shown only on at least this many images a side.
    min_group_images: int = Field(default=50, ge=1)
    # Verdicts against the baseline judge a group (`all` included) only with at least this many conditions
    # (prompts, classes, edits) both runs share; smaller groups are shown, not judged. Below 5 even a change
    # of one sign on every condition happens by chance more than 1 time in 20 (tasks/reporting/verdicts.py).
    min_group_conditions: int = Field(default=5, ge=1)
    # Plug-in metrics: modules to import (each registers its metrics) and options by metric name.
    plugins: list[str] = Field(default_factory=list)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)


@functools.cache
def metrics_spec() -> type[MetricsBase]:
    """MetricsSpec: MetricsBase plus an optional section per built-in metric (`is` by its alias)."""
    sections: dict[str, Any] = {}
    for metric in with_settings():
        alias = metric.key if metric.key != metric.field else None
        sections[metric.field] = (metric.settings | None, Field(default=None, alias=alias))
    return create_model("MetricsSpec", __base__=MetricsBase, **sections)


def validate_metrics(value: Any) -> MetricsBase:
    """The `metrics:` section validated (its errors keep their place: metrics.cmmd.estimator)."""
    return value if isinstance(value, metrics_spec()) else metrics_spec().model_validate(value)


def default_metrics() -> MetricsBase:
    """A spec without `metrics:` scores CLIP score with its defaults."""
    return metrics_spec()(clip_score={})


def needing_reference(metrics: MetricsBase) -> list[str]:
    """The enabled built-in metrics that need real images (`reference:`)."""
    return list(dict.fromkeys(m.key for m in with_settings() if m.needs_reference and getattr(metrics, m.field, None) is not None))


def reference_metric_keys() -> list[str]:
    """Every built-in metric that needs real images, for the error that names them."""
    return list(dict.fromkeys(m.key for m in with_settings() if m.needs_reference))
