"""The metrics, each declared once: by a module of ours (tasks/metrics/*.py) or by a plug-in of yours.

A Metric says what it needs (extraction jobs), whether it scores each image (`sample`) or a set of
images against the reference set (`set`), which way is better, how its per-image values aggregate,
and which test pins it to a reference implementation. The extract and score stages iterate the
enabled metrics; nothing else names them.

Plug-ins: a module that calls `register(Metric(...))` when imported, named in the spec's
`metrics.plugins` list (importable from PYTHONPATH) or published in the `diffeval.metrics`
entry-point group. It runs when its module is listed in `metrics.plugins` or its name is a key of
`metrics.options` (its options, given to it as `ctx.options(name)`). See README "Your own metric".
"""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, Literal

from artifacts.errors import BadInput

if TYPE_CHECKING:
    from tasks.extractors.registry import Extractor, Job
    from tasks.plan.context import RunContext
    from tasks.spec import EvalSpec

ENTRY_POINT_GROUP = "diffeval.metrics"
BUILTIN = ("tasks.metrics.clip_score", "tasks.metrics.directional", "tasks.metrics.fid", "tasks.metrics.kid",
           "tasks.metrics.inception_score", "tasks.metrics.fd_dinov2", "tasks.metrics.cmmd", "tasks.metrics.pickscore",
           "tasks.metrics.hpsv2", "tasks.metrics.prdc", "tasks.metrics.aesthetic", "tasks.metrics.text_rendering")


@dataclass(frozen=True)
class Metric:
    """One metric.

    jobs(ctx): the extractors it needs, each with the inputs it reads.
    score: `sample` metrics: score(ctx) -> one value per item of ctx.items (in that order);
           `set` metrics: score(spec, real, fake, used, seed) -> [(row name, value), ...] from the
           features (of `features`' extractor) of the reference set and one generated set, `used`
           being what fit() chose.
    aggregate: "clamped-mean" (max(mean, 0), as torchmetrics' CLIP score), "mean", or "set".
    enabled(spec): whether the spec asks for it; None for a plug-in (see the module docstring).
    fit(spec, n_real, n_fake): set metrics: the settings a set of that size takes, and what was cut.
    per_class: set metrics: also computed per class (IS of a single class says nothing).
    reads_reference: set metrics: False when only the generated set is read (IS); `diffeval sets` then
           scores each set on its own instead of one against the other.
    features(ctx): set metrics: the extractor whose features score() gets; None: the FID Inception.
    """

    name: str
    kind: Literal["sample", "set"]
    better: Literal["higher", "lower"]
    aggregate: Literal["clamped-mean", "mean", "set"]
    reference_test: str
    jobs: Callable[["RunContext"], list["Job"]]
    score: Callable[..., Any]
    enabled: Callable[["EvalSpec"], bool] | None = None
    fit: Callable[["EvalSpec", int, int], tuple[dict, list[str]]] | None = None
    per_class: bool = True
    features: Callable[["RunContext"], "Extractor"] | None = None
    module: str = ""
    reads_reference: bool = True

    def is_enabled(self, spec: "EvalSpec") -> bool:
        if self.enabled is not None:
            return bool(self.enabled(spec))
        return self.name in spec.metrics.options or self.module in spec.metrics.plugins


_METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add a metric (a plug-in calls this at import); a name already taken by another module is refused."""
    module = metric.module or sys._getframe(1).f_globals.get("__name__", "")  # who registers: its module enables it
    taken = _METRICS.get(metric.name)
    if taken is not None and taken.module != module:
        raise BadInput(f"metric '{metric.name}' of {module}: the name is taken by {taken.module}; rename the metric")
    _METRICS[metric.name] = replace(metric, module=module)
    return _METRICS[metric.name]


@functools.cache
def _load_builtin() -> None:
    for module in BUILTIN:
        importlib.import_module(module)


@functools.cache
def _load_entry_points() -> None:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        _import(point.value.split(":")[0], f"entry point {point.name} ({ENTRY_POINT_GROUP})")


def _import(module: str, who: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise BadInput(f"{who}: cannot import '{module}' ({type(exc).__name__}: {exc}); put its folder on PYTHONPATH "
                       "or pip install its package") from None


def load_plugins(spec: "EvalSpec") -> None:
    """Import our metrics, the entry-point group's and the spec's `metrics.plugins`; check `metrics.options`."""
    _load_builtin()
    _load_entry_points()
    for module in spec.metrics.plugins:
        _import(module, "metrics.plugins")
    unknown = sorted(set(spec.metrics.options) - set(_METRICS))
    if unknown:
        raise BadInput(f"metrics.options: no metric named {', '.join(unknown)} (known: {', '.join(_METRICS)}); "
                       "list the module that defines it in metrics.plugins")


def enabled_metrics(spec: "EvalSpec") -> list[Metric]:
    """The metrics a spec asks for: ours in BUILTIN order (whatever order they were imported in), then plug-ins."""
    load_plugins(spec)
    rank = {module: i for i, module in enumerate(BUILTIN)}
    ordered = sorted(enumerate(_METRICS.values()), key=lambda pair: (rank.get(pair[1].module, len(BUILTIN)), pair[0]))
    return [m for _, m in ordered if m.is_enabled(spec)]


def direction(name: str) -> int:
    """+1 when higher values of metric row `name` are better, -1 when lower are, 0 otherwise (kid_std, is_std)."""
    _load_builtin()
    metric = _METRICS.get(name)
    return 0 if metric is None else (1 if metric.better == "higher" else -1)


def registered_set_metrics(spec: "EvalSpec") -> list[str]:
    """Names of every set metric that can be enabled (ours, entry points, the spec's plug-ins), in BUILTIN order."""
    load_plugins(spec)
    rank = {module: i for i, module in enumerate(BUILTIN)}
    ordered = sorted(enumerate(_METRICS.values()), key=lambda pair: (rank.get(pair[1].module, len(BUILTIN)), pair[0]))
    return [m.name for _, m in ordered if m.kind == "set"]
