"""A resolved model: what a model reference (a folder or a hub id) became, as the plan and the workers carry it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference made concrete: a local folder and a fingerprint of what is in it."""

    ref: str
    local_dir: str
    fingerprint: str
    revision: str | None = None
