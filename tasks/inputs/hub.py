"""Hugging Face hub look-ups that give up at once when the hub cannot be reached.

Offline, huggingface_hub retries a file it does not have in its cache five times with backoff
(1 + 2 + 4 + 8 + 8 s), and datasets goes through the same path: `source: parti` with a hub id,
`source: drawbench` or a model id that is not cached took 23-27 s to fail. Instead, one HEAD
request to the hub's endpoint with a short timeout decides; when it fails, the libraries run in
their offline mode (cache only, no retries) and a look-up is answered from the cache or fails in
well under a second.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from tasks.values.hub_ids import DATA_SUFFIXES, looks_like_hub_id  # noqa: F401 (the readers' names)

CHECK_TIMEOUT_S = 3.0
RECHECK_AFTER_S = 60  # a long-lived process (`serve`) sees the network come back within a minute
_TRUE = ("1", "true", "yes", "on")


def offline_by_env() -> bool:
    """HF_HUB_OFFLINE (or HF_DATASETS_OFFLINE / TRANSFORMERS_OFFLINE) asks for the cache only."""
    return any(os.environ.get(name, "").lower() in _TRUE
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_reachable() -> bool:
    """Whether the hub answers now: False offline or under HF_HUB_OFFLINE, in at most CHECK_TIMEOUT_S."""
    if offline_by_env():
        return False
    return _endpoint_answers(_endpoint(), int(time.monotonic() // RECHECK_AFTER_S))


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


@functools.lru_cache(maxsize=4)
def _endpoint_answers(endpoint: str, _period: int) -> bool:
    answer: list[bool] = []

    def ask() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=CHECK_TIMEOUT_S).close()
            answer.append(True)
        except urllib.error.HTTPError as exc:  # it answered; a 5xx hub would only make the libraries retry
            answer.append(exc.code < 500)
        except (OSError, ValueError):  # no route, no DNS, refused, timed out, bad HF_ENDPOINT
            answer.append(False)

    # why a thread: urlopen's timeout does not cover name resolution, which can hang far longer
    thread = threading.Thread(target=ask, name="diffeval-hub-check", daemon=True)
    thread.start()
    thread.join(CHECK_TIMEOUT_S)
    return bool(answer and answer[0])


@contextlib.contextmanager
def cache_only_unless_reachable() -> Iterator[bool]:
    """Inside: huggingface_hub and datasets in offline mode when the hub is unreachable; yields reachable."""
    reachable = hub_reachable()
    if reachable:
        yield True
        return
    from huggingface_hub import constants

    # The libraries read these module constants at call time; the environment only at import.
    modules = [constants] + [sys.modules[name] for name in ("datasets.config",) if name in sys.modules]
    saved = [(module, flag, getattr(module, flag)) for module in modules
             for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE") if hasattr(module, flag)]
    try:
        for module, flag, _ in saved:
            setattr(module, flag, True)
        yield False
    finally:
        for module, flag, value in saved:
            setattr(module, flag, value)


def load_dataset(path: str, split: str) -> Any:
    """datasets.load_dataset, answered from the cache at once when the hub cannot be reached."""
    import datasets  # why here: a slow import that only hub sets need

    if Path(path).exists():  # a local dataset folder needs no hub
        return datasets.load_dataset(path, split=split)
    with cache_only_unless_reachable():
        return datasets.load_dataset(path, split=split)
