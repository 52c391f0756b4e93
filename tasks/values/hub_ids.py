"""The one rule for "a hub id, not a local path", used by the spec, the input readers and model resolution."""

from __future__ import annotations

import re
from pathlib import Path

# What the hub's ids look like: `owner/name`, or for datasets also a bare `name` (`mnist`).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_DATASET_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
DATA_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json", ".parquet", ".txt")


def looks_like_hub_id(value: str, bare: bool = False) -> bool:
    """The one rule for "a hub id, not a local path": shaped `owner/name` (or a bare `name` where `bare`, as
    dataset ids may be) and naming no data file. Callers look on disk first: an existing path is local."""
    shaped = (_DATASET_ID if bare else _HUB_ID).fullmatch(value) is not None
    return shaped and Path(value).suffix.lower() not in DATA_SUFFIXES
