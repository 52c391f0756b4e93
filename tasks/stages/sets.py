"""Set metrics for a run (FID, KID, IS, FD-DINOv2, CMMD): real images into the store, and the set metrics of the
registry per variant and class, each on its own extractor's features."""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path

import numpy as np
from PIL import Image

from artifacts.errors import BadInput
from artifacts.keys import sha256_bytes
from artifacts.store import Store, ref_rel
from tasks.extractors import cache as features
from tasks.extractors.inception import inception_fingerprint, spec_preprocess, spec_weights
from tasks.extractors.preprocess import decode_image, image_to_uint8
from tasks.inputs.references import reference_images_with_labels
from tasks.metrics.registry import Metric, enabled_metrics
from tasks.plan.context import RunContext
from tasks.spec import EvalSpec

log = logging.getLogger("diffeval")
RANK_DEFICIENT_BELOW = 2048  # fewer images than feature dimensions: a singular covariance estimate


def set_metrics_of(spec: EvalSpec) -> list[Metric]:
    """The spec's enabled metrics of whole sets (FID, KID, IS, and any such plug-in)."""
    return [m for m in enabled_metrics(spec) if m.kind == "set"]


def wants_inception(spec: EvalSpec) -> bool:
    return bool(set_metrics_of(spec))


def store_references(spec: EvalSpec, store: Store) -> list[dict]:
    """Read the real images, check each decodes and survives preprocessing, keep them in refs/ by content hash."""
    weights = spec_weights(spec)
    if weights is not None and not Path(weights).is_file():
        raise BadInput(f"metrics.inception_weights {weights}: file not found; pass the FID Inception state dict "
                       "(torch-fidelity's weights-inception-2015-12-05-6726825d.pth) or remove the key to download it")
    if spec.reference is None:
        return []
    pre, rows = spec_preprocess(spec), []
    for source, data, label in reference_images_with_labels(spec.reference, spec.base_dir):
        sha = sha256_bytes(data)
        if not store.exists(ref_rel(sha)):
            image_to_uint8(decode_image(data, source), pre, source)
            store.write_bytes(ref_rel(sha), data)
        rows.append({"sha256": sha, "source": source, "label": label, "format": _format(data)})
    return rows


def _format(data: bytes) -> str:
    """The encoded format (png, jpeg, ...): FID moves with it, so it is recorded."""
    try:
        return (Image.open(io.BytesIO(data)).format or "unknown").lower()
    except Exception:  # already decoded once by decode_image; this is only a label
        return "unknown"


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


def set_metrics(spec: EvalSpec, real: dict[str, np.ndarray], fake: dict[str, np.ndarray], seed: int, record: dict,
                metrics: list[Metric] | None = None) -> list[tuple[str, float]]:
    """(metric, value) pairs of one generated set against the real set, from cached features, with the
    settings of the set's fragility record (fitted to the set's size). `metrics`: the spec's set metrics."""
    return [pair for m in (set_metrics_of(spec) if metrics is None else metrics)
            for pair in m.score(spec, real, fake, record, seed)]


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


def reduced_groups(rows: list[dict]) -> list[str]:
    """'variant group: what was cut' for each set whose KID subset_size or IS splits was cut to fit it."""
    return list(dict.fromkeys(f"{r['model']} {r['group']}: {', '.join(r['record']['reduced'])}"
                              for r in rows if r.get("record", {}).get("reduced")))


def warn_reduced(rows: list[dict]) -> None:
    """One warning for the run: a smaller subset or fewer splits makes KID / IS noisier and not comparable."""
    groups = reduced_groups(rows)
    if groups:
        log.warning(f"KID subset_size / IS splits cut to fit {len(groups)} small set(s) (first: {groups[0]}); the "
                    "values used are in each row's record; add images or lower metrics.kid.subset_size / metrics.is.splits")


def fragility_section(rows: list[dict]) -> str:
    """Report warnings: rank-deficient covariances, and compared rows whose recipes differ."""
    import html

    from tasks.reporting.report import html_table

    records = [r for r in rows if "record" in r]
    notes = []
    small = sorted({(r["record"]["n_real"], r["record"]["n_fake"]) for r in records if r["record"]["rank_deficient"]})
    if small:
        notes.append(f"Fewer images on a side than feature dimensions ({RANK_DEFICIENT_BELOW} for Inception; n_real, n_fake: "
                     f"{small}): the covariance is rank-deficient and FID / FD-DINOv2 are biased upwards; compare only "
                     "numbers with the same n.")
    reduced = reduced_groups(records)
    if reduced:
        notes.append(f"KID subset_size / IS splits were cut to fit small sets, so those values are noisier and not "
                     f"comparable with uncut ones: {'; '.join(reduced)}.")
    recipes = {(r["metric"], r["record"].get("extractor") or r["record"]["inception"], tuple(r["record"]["real_formats"]))
               for r in records}
    if len(recipes) > len({r["metric"] for r in records}):
        notes.append("Rows of one metric differ in extractor weights, preprocessing or image format: they are not comparable.")
    columns = ["model", "metric", "group", "n_real", "n_fake", "extractor", "preprocess", "real formats", "kid subset_size",
               "is splits", "cmmd estimator"]
    table = html_table([{"model": r["model"], "metric": r["metric"], "group": r["group"], "n_real": r["record"]["n_real"],
                         "n_fake": r["record"]["n_fake"], "extractor": r["record"].get("extractor") or r["record"]["inception"],
                         "preprocess": _preprocess_label(r["record"]["preprocess"]),
                         "real formats": ",".join(r["record"]["real_formats"]), "kid subset_size": r["record"].get("kid_subset_size", ""),
                         "is splits": r["record"].get("is_splits", ""), "cmmd estimator": r["record"].get("cmmd_estimator", "")}
                        for r in records if r["group"] == "all"], columns, "How the set metrics were made")
    warnings = "".join(f"<p class='warn'>⚠ {html.escape(n)}</p>" for n in notes)
    return f"<h2>Set metrics (FID, KID, IS, FD-DINOv2, CMMD)</h2>{warnings}{table}"


def _preprocess_label(pre: dict) -> str:
    """The spec's preprocessing in one cell: crop, resize mode and size (each extractor adds its own, in its fingerprint)."""
    crop = f"crop {pre.get('center_crop')}" if pre.get("center_crop") else "no crop"
    resize = f"resize {pre.get('resize')} {pre.get('resize_to')}" if pre.get("resize", "none") != "none" else "no resize"
    return f"{crop}, {resize}"
