"""Set metrics for a run (FID, KID, IS, FD-DINOv2, CMMD): the set metrics of the registry per variant and class,
each on its own extractor's features (the real images were stored at planning: tasks/plan/references.py)."""

from __future__ import annotations

import logging
import math

import numpy as np

from artifacts import features
from tasks.extractors.inception import inception_fingerprint, spec_preprocess, spec_weights
from tasks.plan.references import set_metrics_of
from tasks.reporting.fragility import RANK_DEFICIENT_BELOW, reduced_groups
from tasks.values.metric import Metric
from tasks.values.context import RunContext
from tasks.spec import EvalSpec

log = logging.getLogger("diffeval")


def _valid(values: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """Features by extractor fingerprint, without the images some extractor could not read (NaN rows):
    every set metric of a set sees the same images."""
    arrays = [v for by_name in values.values() for v in by_name.values()]
    keep = np.ones(len(arrays[0]), bool) if arrays else np.ones(0, bool)
    for v in arrays:
        keep &= ~np.isnan(v).any(axis=1)
    return {fp: {k: v[keep] for k, v in by_name.items()} for fp, by_name in values.items()}


def _size(values: dict[str, dict[str, np.ndarray]]) -> int:
    return next((len(v) for by_name in values.values() for v in by_name.values()), 0)


def features_fingerprint(ctx: RunContext, metric: Metric) -> str:
    """The extractor whose features a set metric scores: its own, or the FID Inception."""
    if metric.features is not None:
        return metric.features(ctx).fingerprint
    return inception_fingerprint(spec_weights(ctx.spec), spec_preprocess(ctx.spec), ctx.spec.metrics.inception_resize)


def fitted_settings(spec: EvalSpec, n_real: int, n_fake: int, metrics: list[Metric] | None = None) -> tuple[dict, list[str]]:
    """The settings a set of this size takes (KID subset_size, IS splits: the spec's, cut to fit), and what was cut."""
    used, reduced = {}, []
    for m in (set_metrics_of(spec) if metrics is None else metrics):
        if m.fit is not None:
            settings, cut = m.fit(spec, n_real, n_fake)
            used |= settings
            reduced += cut
    return used, reduced


def fragility_record(spec: EvalSpec, refs: list[dict], n_real: int, n_fake: int, metrics: list[Metric] | None = None) -> dict:
    """What FID/KID/IS depend on besides the images: recorded beside every value."""
    used, reduced = fitted_settings(spec, n_real, n_fake, metrics)
    weights, pre = spec_weights(spec), spec_preprocess(spec)
    return {"inception": inception_fingerprint(weights, pre, spec.metrics.inception_resize),
            "weights": weights or "torch-fidelity default URL", "precision": "float32 network, float64 statistics",
            "preprocess": pre.fingerprint(), "real_formats": sorted({r["format"] for r in refs}),
            "generated_format": "png", "n_real": n_real, "n_fake": n_fake,
            "rank_deficient": min(n_real, n_fake) < RANK_DEFICIENT_BELOW, **used, "reduced": reduced}


def own_record(record: dict, metric: Metric, extractor: str, features: dict[str, np.ndarray]) -> dict:
    """One metric's record: the set's, naming the extractor it scored; for features other than the FID
    Inception's, without the Inception entries and with its own feature width deciding `rank_deficient`."""
    if metric.features is None:
        return {**record, "extractor": extractor}
    width = max((v.shape[1] for v in features.values()), default=0)
    rest = {k: v for k, v in record.items() if k not in ("inception", "weights")}
    return {**rest, "extractor": extractor, "feature_dim": width,
            "rank_deficient": min(record["n_real"], record["n_fake"]) < width}


def metric_row(variant: str, cell: dict, metric: str, group: str, value: float, record: dict) -> dict:
    n = record["n_fake"]
    return {"model": variant, "metric": metric, "group": group, "value": float(value), "ci_low": math.nan,
            "ci_high": math.nan, "n": n, "cell": cell, "record": record}


def score_sets(ctx: RunContext, metrics: list[Metric]) -> list[dict]:
    """Rows of the set `metrics` per variant: group `all`, and `class:<label>` where the real images carry
    that label (only the metrics that are `per_class`)."""
    spec, refs, image_sha = ctx.spec, ctx.prepared.references, ctx.image_sha
    source = {m.name: features_fingerprint(ctx, m) for m in metrics}
    wanted = {r["sha256"] for r in refs} | {image_sha[i.key] for i in ctx.items}
    caches = {fp: features.read_features(ctx.store, fp, wanted) for fp in dict.fromkeys(source.values())}
    take = lambda shas: {fp: c.take(shas) for fp, c in caches.items()}  # noqa: E731
    real_all = _valid(take([r["sha256"] for r in refs]))
    real_by_label: dict[str, list[str]] = {}
    for r in refs:
        if r["label"]:
            real_by_label.setdefault(r["label"], []).append(r["sha256"])
    per_class = [m for m in metrics if m.per_class]
    seed, rows = spec.metrics.bootstrap_seed, []
    for v in ctx.variants:
        mine = [i for i in ctx.items if i.variant_id == v.variant_id]
        sets = [("all", real_all, _valid(take([image_sha[i.key] for i in mine])), metrics)]
        for label in dict.fromkeys(ctx.condition(i).text for i in mine):
            shas = real_by_label.get(label, [])
            fake = _valid(take([image_sha[i.key] for i in mine if ctx.condition(i).text == label]))
            real = _valid(take(shas)) if shas else None
            if real is not None and min(_size(real), _size(fake)) >= 2:
                sets.append((f"class:{label}", real, fake, per_class))
        for group, real, fake, chosen in sets:
            record = fragility_record(spec, refs, _size(real), _size(fake), chosen)
            for m in chosen:  # each metric on its own extractor's features, its row naming that extractor
                own = own_record(record, m, source[m.name], real[source[m.name]])
                rows += [metric_row(v.variant_id, v.cell, name, group, value, own)
                         for name, value in m.score(spec, real[source[m.name]], fake[source[m.name]], own, seed)]
    warn_reduced(rows)
    return rows


def warn_reduced(rows: list[dict]) -> None:
    """One warning for the run: a smaller subset or fewer splits makes KID / IS noisier and not comparable."""
    groups = reduced_groups(rows)
    if groups:
        log.warning(f"KID subset_size / IS splits cut to fit {len(groups)} small set(s) (first: {groups[0]}); the "
                    "values used are in each row's record; add images or lower metrics.kid.subset_size / metrics.is.splits")
