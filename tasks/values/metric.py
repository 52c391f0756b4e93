"""The metrics, each declared once: by a module of ours (tasks/metrics/*.py) or by a plug-in of yours.

A metric is one module that calls `register(SampleMetric(...))` or `register(SetMetric(...))` when
imported. It declares what it needs (extraction jobs), which way is better, how its values are
made (a SampleMetric scores each image; a SetMetric scores a generated set against the reference
set), the pydantic model of its `metrics.<key>:` section in the spec (`settings`), the kind of model
folder its `model:` setting resolves as (`model_kind`), whether it needs reference images, and
which test pins it to a reference implementation. Every module of tasks/metrics/ is imported to
find the built-in ones (nothing lists them); the spec's `metrics:` section, model resolution and
the extract and score stages read them from here.

Plug-ins: a module that calls `register(...)` when imported, named in the spec's `metrics.plugins`
list (importable from PYTHONPATH) or published in the `diffeval.metrics` entry-point group. It runs
when its module is listed in `metrics.plugins` or its name is a key of `metrics.options` (its options,
given to it as `ctx.options(name)`). See README "Your own metric".
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Sequence

from artifacts.errors import BadInput
from tasks.values.extraction import Extractor, Job

if TYPE_CHECKING:
    import numpy as np
    from pydantic import BaseModel

# Named, not imported: the spec assembles its `metrics:` section from this registry, and the context
# carries the spec, so importing either here would close a circle.
EvalSpec = Any  # tasks.spec.EvalSpec
RunContext = Any  # tasks.values.context.RunContext

ENTRY_POINT_GROUP = "diffeval.metrics"
BUILTIN_PACKAGE = "tasks.metrics"  # every module in it is imported to find the built-in metrics


@dataclass(frozen=True, kw_only=True)
class Metric:
    """What every metric declares (use SampleMetric or SetMetric).

    jobs(ctx): the extractors it needs, each with the inputs it reads.
    settings: the pydantic model of its `metrics.<spec_key>:` section (built-ins; None: no section of its
        own: a plug-in reads `metrics.options.<name>`); it is enabled when that section is present.
    spec_key: the section's key in the spec (default: the name); spec_field: the attribute on
        `spec.metrics` (default: spec_key; `is` is a Python keyword, so IS says `inception_score`).
    model_kind: the kind of folder its settings' `model` (and `processor`, if any) resolves as (clip,
        dinov2, open_clip); None: it has no model of its own.
    needs_reference: the spec must have a `reference:` section when it is enabled.
    rank: where its rows stand among the metrics' (ours 10, 20, ...; ties in registration order).
    enabled(spec): whether the spec asks for it, where the rules above do not say (plug-ins: module docstring).
    extra_models: further models its settings name, as (settings field, kind of folder); each is resolved with
        the run's metric models under `<key>.<field>` (GenEval's colour CLIP: `geneval.clip_model`).
    check(spec, conditions, metric_models): refuses input it cannot score (BadInput), called by prepare before
        anything is written (a prompt without the metadata it reads, a model folder without its processor).
    """

    name: str
    better: Literal["higher", "lower"]
    reference_test: str
    jobs: Callable[["RunContext"], list["Job"]]
    settings: type["BaseModel"] | None = None
    spec_key: str = ""
    spec_field: str = ""
    model_kind: str | None = None
    needs_reference: bool = False
    rank: int = 1000
    enabled: Callable[["EvalSpec"], bool] | None = None
    extra_models: tuple[tuple[str, str], ...] = ()
    check: Callable[["EvalSpec", Sequence[Any], dict[str, Any]], None] | None = None
    module: str = ""

    kind: ClassVar[Literal["sample", "set"]]

    @property
    def key(self) -> str:
        """Its section's key in the spec's `metrics:` (`is` for IS)."""
        return self.spec_key or self.name

    @property
    def field(self) -> str:
        """Its section's attribute on `spec.metrics`."""
        return self.spec_field or self.key

    def is_enabled(self, spec: "EvalSpec") -> bool:
        if self.enabled is not None:
            return bool(self.enabled(spec))
        if self.settings is not None:
            return getattr(spec.metrics, self.field, None) is not None
        return self.name in spec.metrics.options or self.module in spec.metrics.plugins


@dataclass(frozen=True, kw_only=True)
class SampleMetric(Metric):
    """A value per generated image: score(ctx) -> one value per item of ctx.items (in that order), aggregated
    per prompt, then per variant and group with a bootstrap CI ("clamped-mean": max(mean, 0), as
    torchmetrics' CLIP score; "mean"), and compared in pairs."""

    score: Callable[["RunContext"], "np.ndarray"]
    aggregate: Literal["clamped-mean", "mean"] = "mean"

    kind: ClassVar[Literal["sample"]] = "sample"


@dataclass(frozen=True, kw_only=True)
class SetMetric(Metric):
    """A value per generated set against the reference set, from cached features.

    score(spec, real, fake, used, seed) -> [(row name, value), ...]: `real` and `fake` are the features (of
    `features`' extractor, else the FID Inception's) of the reference set and one generated set, `used`
    what fit() chose.
    fit(spec, n_real, n_fake): the settings a set of that size takes, and what was cut.
    per_class: also computed per class (IS of a single class says nothing).
    reads_reference: False when only the generated set is read (IS); `diffeval sets` then scores each set
        on its own instead of one against the other.
    features(ctx): the extractor whose features score() gets; None: the FID Inception.
    """

    score: Callable[["EvalSpec", dict, dict, dict, int], list[tuple[str, float]]]
    fit: Callable[["EvalSpec", int, int], tuple[dict, list[str]]] | None = None
    per_class: bool = True
    features: Callable[["RunContext"], "Extractor"] | None = None
    reads_reference: bool = True

    kind: ClassVar[Literal["set"]] = "set"
    aggregate: ClassVar[str] = "set"


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
    """Import every module of tasks/metrics/: each built-in metric registers itself (none is listed)."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")


def _ordered() -> list[Metric]:
    """Every registered metric by rank, ties in registration order."""
    return [m for _, m in sorted(enumerate(_METRICS.values()), key=lambda pair: (pair[1].rank, pair[0]))]


def builtin_metrics() -> list[Metric]:
    """Our own metrics (tasks/metrics/), in rank order."""
    _load_builtin()
    return [m for m in _ordered() if m.module.startswith(BUILTIN_PACKAGE + ".")]


def with_settings() -> list[Metric]:
    """The built-in metrics with a `metrics.<key>:` section of their own, in rank order."""
    return [m for m in builtin_metrics() if m.settings is not None]


def spec_key_of(name: str) -> str | None:
    """The spec's `metrics:` key that enables metric `name` (`is` for IS), or None for a plug-in."""
    return next((m.key for m in with_settings() if m.name == name), None)


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
    """The metrics a spec asks for, in rank order (ours, then plug-ins, whatever order they were imported in)."""
    load_plugins(spec)
    return [m for m in _ordered() if m.is_enabled(spec)]


def direction(name: str) -> int:
    """+1 when higher values of metric row `name` are better, -1 when lower are, 0 otherwise (kid_std, is_std)."""
    _load_builtin()
    metric = _METRICS.get(name)
    return 0 if metric is None else (1 if metric.better == "higher" else -1)


def registered_set_metrics(spec: "EvalSpec") -> list[str]:
    """Names of every set metric that can be enabled (ours, entry points, the spec's plug-ins), in rank order."""
    load_plugins(spec)
    return [m.name for m in _ordered() if m.kind == "set"]
