"""FID, KID and IS for a run: real images into the store, Inception features through the cache, metrics."""

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
from tasks.metrics.fid import features_to_fid, features_to_kid, logits_to_inception_score
from tasks.extractors.inception import inception_fingerprint, load_fid_inception, uint8_to_inception_features
from tasks.names import FID, IS, IS_STD, KID, KID_STD
from tasks.extractors.preprocess import Preprocess, decode_image, image_to_uint8
from tasks.inputs.references import reference_images_with_labels
from tasks.spec import EvalSpec

log = logging.getLogger("diffeval")
RANK_DEFICIENT_BELOW = 2048  # fewer images than feature dimensions: a singular covariance estimate
_MODELS: dict[tuple, object] = {}


def wants_inception(spec: EvalSpec) -> bool:
    m = spec.metrics
    return any(x is not None for x in (m.fid, m.kid, m.inception_score))


def preprocess_of(spec: EvalSpec) -> Preprocess:
    ref = spec.reference
    return Preprocess.from_spec(ref) if ref is not None else Preprocess(center_crop=None)


def weights_of(spec: EvalSpec) -> str | None:
    return spec.resolve_path(spec.metrics.inception_weights) if spec.metrics.inception_weights else None


def store_references(spec: EvalSpec, store: Store) -> list[dict]:
    """Read the real images, check each decodes and survives preprocessing, keep them in refs/ by content hash."""
    weights = weights_of(spec)
    if weights is not None and not Path(weights).is_file():
        raise BadInput(f"metrics.inception_weights {weights}: file not found; pass the FID Inception state dict "
                       "(torch-fidelity's weights-inception-2015-12-05-6726825d.pth) or remove the key to download it")
    if spec.reference is None:
        return []
    pre, rows = preprocess_of(spec), []
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


def _inception(weights: str | None, device: str):
    memo = (weights, device)
    if memo not in _MODELS:
        _MODELS[memo] = load_fid_inception(weights, device)
    return _MODELS[memo]


def _compute(spec: EvalSpec, device: str, sources: dict[str, str]):
    """Inputs → {"pool", "logits"}; an image the `skip` rule drops gets a NaN row (remembered, not retried)."""
    pre, weights = preprocess_of(spec), weights_of(spec)

    def compute(batch: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        arrays = [image_to_uint8(decode_image(data, sources.get(sha, sha)), pre, sources.get(sha, sha)) for sha, data in batch]
        pool = np.full((len(batch), 2048), np.nan, np.float32)
        logits = np.full((len(batch), 1008), np.nan, np.float32)
        by_shape: dict[tuple, list[int]] = {}
        for i, arr in enumerate(arrays):
            if arr is not None:
                by_shape.setdefault(arr.shape, []).append(i)
        for idx in by_shape.values():
            p, lg = uint8_to_inception_features(_inception(weights, device), np.stack([arrays[i] for i in idx]))
            pool[idx], logits[idx] = p, lg
        return {"pool": pool, "logits": logits}

    return compute


def extract_inception_features(store: Store, spec: EvalSpec, shas_to_rel: dict[str, str], sources: dict[str, str],
                               device: str, batch_size: int = 32, progress=None) -> tuple[int, int]:
    """Cache pool features and logits of every image in `shas_to_rel`; return (extracted, reused)."""
    extractor = inception_fingerprint(weights_of(spec), preprocess_of(spec))
    load = lambda shas: [(s, store.read_bytes(shas_to_rel[s], s)) for s in shas]  # noqa: E731
    return features.extract_missing(store, extractor, list(shas_to_rel), load, _compute(spec, device, sources), batch_size, progress)


def _valid(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    keep = ~np.isnan(values["pool"]).any(axis=1)
    return {k: v[keep] for k, v in values.items()}


def set_metrics(spec: EvalSpec, real: dict[str, np.ndarray], fake: dict[str, np.ndarray], seed: int,
                record: dict) -> list[tuple[str, float]]:
    """(metric, value) pairs of one generated set against the real set, from cached features, with the
    KID subset size and IS splits of the set's fragility record (fitted to the set's size)."""
    m, out = spec.metrics, []
    if m.fid is not None:
        out.append((FID, features_to_fid(real["pool"], fake["pool"])))
    if m.kid is not None:
        mean, std = features_to_kid(real["pool"], fake["pool"], m.kid.subsets, record["kid_subset_size"], m.kid.degree,
                                    m.kid.gamma, m.kid.coef, seed)
        out += [(KID, mean), (KID_STD, std)]
    if m.inception_score is not None:
        mean, std = logits_to_inception_score(fake["logits"], record["is_splits"], seed)
        out += [(IS, mean), (IS_STD, std)]
    return out


def fitted_settings(spec: EvalSpec, n_real: int, n_fake: int) -> tuple[dict, list[str]]:
    """The KID subset_size and IS splits a set of this size takes (the spec's, cut to fit), and what was cut."""
    m, used, reduced = spec.metrics, {}, []
    if m.kid is not None:
        used["kid_subset_size"] = min(m.kid.subset_size, n_real, n_fake)
        if used["kid_subset_size"] < m.kid.subset_size:
            reduced.append(f"kid subset_size {m.kid.subset_size} -> {used['kid_subset_size']}")
    if m.inception_score is not None:
        used["is_splits"] = min(m.inception_score.splits, n_fake)
        if used["is_splits"] < m.inception_score.splits:
            reduced.append(f"is splits {m.inception_score.splits} -> {used['is_splits']}")
    return used, reduced


def fragility_record(spec: EvalSpec, refs: list[dict], n_real: int, n_fake: int) -> dict:
    """What FID/KID/IS depend on besides the images: recorded beside every value."""
    used, reduced = fitted_settings(spec, n_real, n_fake)
    return {"inception": inception_fingerprint(weights_of(spec), preprocess_of(spec)),
            "weights": weights_of(spec) or "torch-fidelity default URL", "precision": "float32 network, float64 statistics",
            "preprocess": preprocess_of(spec).fingerprint(), "real_formats": sorted({r["format"] for r in refs}),
            "generated_format": "png", "n_real": n_real, "n_fake": n_fake,
            "rank_deficient": min(n_real, n_fake) < RANK_DEFICIENT_BELOW, **used, "reduced": reduced}


def metric_row(variant: str, cell: dict, metric: str, group: str, value: float, record: dict) -> dict:
    n = record["n_fake"]
    return {"model": variant, "metric": metric, "group": group, "value": float(value), "ci_low": math.nan,
            "ci_high": math.nan, "n": n, "cell": cell, "record": record}


def score_sets(store: Store, spec: EvalSpec, refs: list[dict], variants: list[dict], items: list[dict],
               image_sha: dict[str, str], label_of: dict[str, str]) -> list[dict]:
    """FID/KID/IS rows per variant: group `all`, and `class:<label>` where the real images carry that label
    (FID and KID only: IS of a single class says nothing)."""
    extractor = inception_fingerprint(weights_of(spec), preprocess_of(spec))
    wanted = {r["sha256"] for r in refs} | {image_sha[i["key"]] for i in items}
    cache = features.read_features(store, extractor, wanted)
    real_all = _valid(cache.take([r["sha256"] for r in refs]))
    real_by_label: dict[str, list[str]] = {}
    for r in refs:
        if r["label"]:
            real_by_label.setdefault(r["label"], []).append(r["sha256"])
    seed, rows = spec.metrics.bootstrap_seed, []
    for v in variants:
        mine = [i for i in items if i["variant"] == v["variant"]]
        fake = _valid(cache.take([image_sha[i["key"]] for i in mine]))
        record = fragility_record(spec, refs, len(real_all["pool"]), len(fake["pool"]))
        rows += [metric_row(v["variant"], v["cell"], m, "all", value, record)
                 for m, value in set_metrics(spec, real_all, fake, seed, record)]
        for label in dict.fromkeys(label_of[i["condition_id"]] for i in mine):
            real_shas = real_by_label.get(label, [])
            fake_c = _valid(cache.take([image_sha[i["key"]] for i in mine if label_of[i["condition_id"]] == label]))
            real_c = _valid(cache.take(real_shas)) if real_shas else None
            if real_c is None or min(len(real_c["pool"]), len(fake_c["pool"])) < 2:
                continue
            per_class = spec.model_copy(update={"metrics": spec.metrics.model_copy(update={"inception_score": None})})
            rec = fragility_record(per_class, refs, len(real_c["pool"]), len(fake_c["pool"]))
            rows += [metric_row(v["variant"], v["cell"], m, f"class:{label}", value, rec)
                     for m, value in set_metrics(per_class, real_c, fake_c, seed, rec)]
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
        notes.append(f"Fewer than {RANK_DEFICIENT_BELOW} images on a side (n_real, n_fake: {small}): the 2048-d covariance "
                     "is rank-deficient and FID is biased upwards; compare only numbers with the same n.")
    reduced = reduced_groups(records)
    if reduced:
        notes.append(f"KID subset_size / IS splits were cut to fit small sets, so those values are noisier and not "
                     f"comparable with uncut ones: {'; '.join(reduced)}.")
    recipes = {(r["record"]["inception"], tuple(r["record"]["real_formats"])) for r in records}
    if len(recipes) > 1:
        notes.append("Rows differ in Inception weights, preprocessing or image format: they are not comparable.")
    table = html_table([{"model": r["model"], "metric": r["metric"], "group": r["group"], "n_real": r["record"]["n_real"],
                         "n_fake": r["record"]["n_fake"], "inception": r["record"]["inception"],
                         "real formats": ",".join(r["record"]["real_formats"]), "kid subset_size": r["record"].get("kid_subset_size", ""),
                         "is splits": r["record"].get("is_splits", "")} for r in records if r["group"] == "all"],
                       ["model", "metric", "group", "n_real", "n_fake", "inception", "real formats", "kid subset_size", "is splits"],
                       "How FID / KID / IS were made")
    warnings = "".join(f"<p class='warn'>⚠ {html.escape(n)}</p>" for n in notes)
    return f"<h2>FID / KID / IS</h2>{warnings}{table}"
