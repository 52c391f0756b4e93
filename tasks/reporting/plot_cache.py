"""Report plots kept in the store by their inputs: a warm re-run with unchanged values draws no plot again.

Drawing a forest plot costs about half a second of matplotlib text layout, most of a warm re-run's own
work. A plot is a pure function of its arguments and of the drawing code, so its PNG is kept under the
sha256 of (the function's name, its arguments as canonical JSON, the source of the modules that draw,
the matplotlib version): any change to a value, a label, the code or matplotlib draws it anew. The PNG is
written first and a small JSON record (what the function returned besides the PNG) last, atomically:
the record marks a complete entry. Outside `plots_kept_in(store)` the functions simply draw.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import math
from pathlib import Path
from typing import Callable, Iterator

from artifacts.store import Store

DRAWING_MODULES = ("plots.py", "heatmap.py")  # tasks/reporting files whose code decides the pixels
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_store: contextvars.ContextVar[Store | None] = contextvars.ContextVar("plot_store", default=None)


@contextlib.contextmanager
def plots_kept_in(store: Store) -> Iterator[None]:
    """Inside, functions decorated with `kept` read their PNG from `store` when drawn before, else draw and keep it."""
    token = _store.set(store)
    try:
        yield
    finally:
        _store.reset(token)


def _plain(value):
    """Arguments as JSON-able values: pydantic models dumped, NaN spelled (it is not equal to itself)."""
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    from importlib.metadata import version  # not `import matplotlib`: 0.17 s that a warm re-run, all plots kept, never needs

    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(version("matplotlib").encode())
    for name in DRAWING_MODULES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def plot_key(name: str, args: tuple) -> str:
    """The sha256 naming a plot: its function, arguments, drawing code and matplotlib version."""
    payload = json.dumps([name, _plain(args), _code_fingerprint()], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def kept(draw: Callable) -> Callable:
    """Decorate a function returning a PNG (or a tuple PNG, extras...) so that it is kept in the store."""

    @functools.wraps(draw)
    def wrapper(*args):
        store = _store.get()
        if store is None:
            return draw(*args)
        key = plot_key(f"{draw.__module__}.{draw.__qualname__}", args)
        png_rel, record_rel = f"plots/{key[:2]}/{key}.png", f"plots/{key[:2]}/{key}.json"
        if store.exists(record_rel):
            png = store.read_bytes(png_rel)
            if png.startswith(_PNG_SIGNATURE):
                extra = json.loads(store.read_bytes(record_rel))["extra"]
                return png if extra is None else (png, *extra)
        result = draw(*args)
        png, extra = (result, None) if isinstance(result, bytes) else (result[0], list(result[1:]))
        store.write_bytes(png_rel, png)
        store.write_bytes(record_rel, json.dumps({"extra": extra}).encode())  # last: the entry is complete
        return result

    return wrapper
