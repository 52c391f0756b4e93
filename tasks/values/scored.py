"""Scored: what the score stage gives the report (tasks/reporting/ builds every section from it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Scored:
    """Per-image score rows, metric rows, paired comparisons and further tables (by name) of one run."""

    scores: list[dict] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)
    comparisons: list[dict] = field(default_factory=list)
    tables: dict[str, list[dict]] = field(default_factory=dict)  # further run tables by name (per-skill outputs)
    best_steps: list[dict] = field(default_factory=list)  # a checkpoints folder's best step per metric
