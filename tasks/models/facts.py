"""What planning needs to know from diffusers, kept in the store so that a warm run never imports it.

A generation key holds a pipeline's full scheduler config (defaults filled in by the installed
diffusers) and only the settings its `__call__` takes. Working these out imports diffusers, which
costs seconds on every run; the answers depend only on the diffusers version and the question, so
they are kept as small JSON files under `facts/<key[:2]>/<key>.json`, keyed by both, and read back
on the next run. A new diffusers release asks again. Answers found during a run are written only
when `save()` is called, after every input has been checked: bad input writes nothing.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

from artifacts.keys import key_of, sha256_bytes
from artifacts.store import Store

FACTS_DIR = "facts"


class PipelineFacts:
    """Answers about the installed diffusers: from the store, else worked out and kept for `save()`."""

    def __init__(self, store: Store):
        self.store = store
        self.diffusers = version("diffusers")  # package metadata: no import of diffusers itself
        self._known: dict[str, Any] = {}
        self._new: dict[str, dict] = {}

    def _answer(self, question: dict, work_out: Callable[[], Any]) -> Any:
        question = {"diffusers": self.diffusers, **question}
        key = key_of(question)
        rel = f"{FACTS_DIR}/{key[:2]}/{key}.json"
        if rel not in self._known:
            try:
                self._known[rel] = json.loads(self.store.read_bytes(rel))["answer"]
            except (FileNotFoundError, ValueError, KeyError, TypeError):  # absent, or not ours: ask diffusers
                answer = work_out()
                self._known[rel] = answer
                self._new[rel] = {"question": question, "answer": answer}
        return self._known[rel]

    def call_parameters(self, pipeline: str) -> list[str]:
        """The parameter names of `diffusers.<pipeline>.__call__`; BadInput when diffusers has no such class."""
        from tasks.models.resolve import pipeline_call_parameters

        return self._answer({"call_parameters": pipeline}, lambda: pipeline_call_parameters(pipeline))

    def scheduler_config(self, local_dir: str, swap_to: str | None) -> dict:
        """The scheduler config a pipeline folder runs with after an optional swap (see models.scheduler_config)."""
        from tasks.models.resolve import scheduler_config

        path = Path(local_dir) / "scheduler" / "scheduler_config.json"
        base = sha256_bytes(path.read_bytes()) if path.is_file() else None
        # The folder's config file by content, not its path: a moved or copied model still hits.
        return self._answer({"scheduler_config": base, "swap_to": swap_to}, lambda: scheduler_config(local_dir, swap_to))

    def save(self) -> int:
        """Write the answers worked out since the last save; return how many."""
        for rel, record in self._new.items():
            # json.dumps spells -inf as -Infinity and json.loads reads it back: the answer survives exactly.
            self.store.write_text(rel, json.dumps(record, sort_keys=True, indent=1) + "\n")
        saved, self._new = len(self._new), {}
        return saved
