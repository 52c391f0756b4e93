"""`diffeval sets A B`: every registered set metric between two sets of images made anywhere, as clean-fid's
`compute_fid(dir1, dir2)` and torch-fidelity's `--input1 --input2`.

A plays the reference (the real set of a run), B the generated set; a metric that reads only the
generated set (IS) is given for each. Features come from the same extractors, preprocessing and
content-addressed cache as a run's, so a folder scored here and used as a run's reference is extracted
once. Any metric in the registry with kind "set" works here: its jobs say what to extract, its score
what to compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict

from artifacts.errors import BadInput
from artifacts.named_stats import check_name, save_stats
from artifacts.store import Store, ref_rel
from artifacts import features
from tasks.extractors.inception import spec_preprocess, spec_weights
from tasks.extractors.registry import Extractor, Job, merge_jobs, run_job
from tasks.metrics.fid import features_to_stats, frechet_distance
from tasks.values.metric import Metric, enabled_metrics, registered_set_metrics, spec_key_of
from tasks.metrics.stats import as_2d
from tasks.models.resolve import pick_device
from tasks.plan.prepare import resolve_metric_models
from tasks.values.names import FID, IS, KID
from tasks.spec import EvalSpec, load_spec, spec_from_dict
from tasks.stages import set_checks as checks
from tasks.stages.set_inputs import SetInput, keep_images, resolve_input
from tasks.stages.sets import fragility_record, own_record

DEFAULT_METRICS = (FID, KID, IS)
COLUMNS = ["metric", "a", "b", "value", "n_a", "n_b"]


class SetsRequest(BaseModel):
    """What `diffeval sets` was asked: the inputs, metrics, where statistics go, and the preprocessing (None: the
    --spec file's, else the defaults: no crop, no resize, as torch-fidelity feeds the network)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    a: str
    b: str | None = None
    metrics: tuple[str, ...] = ()
    save_stats: str | None = None
    spec: str | None = None
    inception_weights: str | None = None
    center_crop: int | Literal["none"] | None = None
    resize: Literal["none", "clean", "legacy"] | None = None
    resize_to: int | None = None
    small: Literal["error", "upscale", "skip"] | None = None
    device: str = "auto"


@dataclass(frozen=True)
class SetsContext:
    """What a metric's jobs(ctx) read, for two sets instead of a run: A as the references, B as the generated images."""

    store: Store
    spec: EvalSpec
    a: SetInput
    b: SetInput | None
    device: str
    items: tuple = ()

    @cached_property  # resolving the metric models hashes their folders: once per command
    def prepared(self) -> SimpleNamespace:
        refs = [{"sha256": s, "source": self.a.sources.get(s, s), "label": None, "format": ",".join(self.a.formats)}
                for s in dict.fromkeys(self.a.shas)]
        # The metrics' own models (FD-DINOv2's DINOv2, CMMD's CLIP), resolved as a run resolves them.
        return SimpleNamespace(references=refs, items=(), conditions=(), variants=(), metric_models=resolve_metric_models(self.spec))

    def generated_images(self) -> dict[str, str]:
        return {s: ref_rel(s) for s in (self.b.shas if self.b else ())}

    def image_job(self, extractor: Extractor) -> Job:
        return Job(extractor, {**{s: ref_rel(s) for s in self.a.shas}, **self.generated_images()})

    def options(self, metric: str) -> dict:
        return dict(self.spec.metrics.options.get(metric, {}))


def _metrics_key(name: str) -> str | None:
    """The spec's `metrics:` key that enables metric `name` (`is` for IS), or None for a plug-in."""
    return spec_key_of(name)


SETS_SECTIONS = {"metrics", "reference"}


def load_sets_spec(path: str) -> EvalSpec:
    """--spec: a run's EvalSpec, or a file with only `metrics:` (and optionally `reference:`'s preprocessing): A and B
    come from the command line, so no models, prompts or reference path are needed."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"--spec {path}: file not found; pass the path of a YAML file with a metrics: section") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"--spec {path}: cannot read it ({type(exc).__name__}); fix the YAML") from None
    if not isinstance(data, dict) or not set(data) <= SETS_SECTIONS:
        return load_spec(path)
    reference = {"path": ".", "center_crop": None, **(data.get("reference") or {})}  # sets default: no crop
    full = {"name": "sets", "models": [{"name": "sets", "path": "."}], "reference": reference, "metrics": data.get("metrics") or {}}
    return spec_from_dict(full, f"--spec {path}", Path(path).parent)


def request_to_spec(req: SetsRequest, names: tuple[str, ...]) -> EvalSpec:
    """An EvalSpec holding what a run would use: the --spec file's metric settings and preprocessing, the flags over them."""
    base = load_sets_spec(req.spec) if req.spec else None
    metrics = base.metrics.model_dump(by_alias=True, exclude_none=True) if base else {}
    for name in names:
        key = _metrics_key(name)
        if key is None:
            metrics.setdefault("options", {}).setdefault(name, {})
        else:
            metrics[key] = (base.metrics.model_dump(by_alias=True).get(key) if base else None) or {}
    weights = req.inception_weights or (spec_weights(base) if base else None)
    if weights:
        metrics["inception_weights"] = weights
    ref = base.reference.model_dump() if base and base.reference else {"center_crop": None}
    flags = {"center_crop": req.center_crop, "resize": req.resize, "resize_to": req.resize_to, "small": req.small}
    pre = {k: ref[k] for k in flags if k in ref} | {k: v for k, v in flags.items() if v is not None}
    pre["center_crop"] = None if pre["center_crop"] == "none" else pre["center_crop"]  # the default: no crop
    data = {"name": "sets", "models": [{"name": "sets", "path": "."}], "reference": {"path": ".", **pre}, "metrics": metrics}
    return spec_from_dict(data, "diffeval sets", base.base_dir if base else ".")


def chosen_metrics(req: SetsRequest, inputs: list[SetInput]) -> tuple[EvalSpec, list[Metric]]:
    """The spec and the registered set metrics asked for (default FID, KID and IS; FID alone against an .npz)."""
    npz = next((i for i in inputs if not i.images), None)
    names = req.metrics or ((FID,) if npz else DEFAULT_METRICS)
    known = registered_set_metrics(request_to_spec(req, ()))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadInput(f"--metric {unknown[0]}: not a set metric (registered: {', '.join(known)}); pick one of those")
    if npz is not None and set(names) != {FID}:
        raise BadInput(f"{npz.label}: holds mu and sigma only (pytorch-fid / clean-fid statistics), so FID only; drop "
                       f"--metric {next(n for n in names if n != FID)}, or pass the images or stats:NAME instead")
    spec = request_to_spec(req, tuple(names))
    return spec, [m for m in enabled_metrics(spec) if m.kind == "set" and m.name in names]


def _check_saved(inp: SetInput, jobs: list[Job]) -> None:
    """stats:NAME holds features of the extractors it was saved with: another fingerprint would mean other values."""
    if inp.saved is None:
        return
    missing = [j.extractor.fingerprint for j in jobs if j.extractor.fingerprint not in inp.saved["extractors"]]
    if missing:
        raise BadInput(f"{inp.label}: saved with {', '.join(inp.saved['extractors'])}, this command needs {missing[0]} (other "
                       "weights, preprocessing or metric); pass the options it was saved with, or save it again")


def _features(store: Store, fingerprints: list[str], inp: SetInput) -> dict[str, np.ndarray]:
    """The cached columns of every extractor a metric reads, rows in the set's order; rows a `skip` rule left NaN dropped."""
    merged: dict[str, np.ndarray] = {}
    for fp in fingerprints:
        merged |= features.gather(store, fp, list(inp.shas))
    keep = np.ones(len(inp.shas), bool)
    for values in merged.values():
        keep &= ~np.isnan(as_2d(values)).any(axis=1)
    return {k: v[keep] for k, v in merged.items()}


def _gaussian(store: Store, fp: str, inp: SetInput) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of a side: from its .npz, or from its cached Inception pool features."""
    return inp.npz if inp.npz is not None else features_to_stats(_features(store, [fp], inp)["pool"]).mean_cov()


def score_metric(store: Store, spec: EvalSpec, ctx: SetsContext, metric: Metric) -> list[dict]:
    """One metric's rows: A against B, or (a metric of the generated set alone) each set on its own."""
    a, b, seed = ctx.a, ctx.b, spec.metrics.bootstrap_seed
    fps = [j.extractor.fingerprint for j in metric.jobs(ctx)]
    if not (a.images and b.images):  # only FID reaches here (chosen_metrics): the Fréchet distance of the Gaussians
        (mu1, s1), (mu2, s2) = _gaussian(store, fps[0], a), _gaussian(store, fps[0], b)
        n_a, n_b = (len(i.shas) if i.images else None for i in (a, b))
        return [_row(FID, a.label, b.label, frechet_distance(mu1, s1, mu2, s2), n_a, n_b, {"from": "mu and sigma"})]
    fa, fb = _features(store, fps, a), _features(store, fps, b)
    n_a, n_b = (len(next(iter(f.values()))) for f in (fa, fb))
    if not metric.reads_reference:
        rows = []
        for label, own, n in ((a.label, fa, n_a), (b.label, fb, n_b)):
            used, _ = metric.fit(spec, n, n) if metric.fit else ({}, [])
            rows += [_row(name, label, "", value, n, None, fragility_record(spec, [], n, n, [metric]))
                     for name, value in metric.score(spec, own, own, used, seed)]
        return rows
    record = fragility_record(spec, ctx.prepared.references, n_a, n_b, [metric]) | {"generated_format": ",".join(b.formats)}
    # As in a run (tasks/stages/sets.py): the record names the extractor the metric scored, and the metric gets it.
    record = own_record(record, metric, metric.features(ctx).fingerprint if metric.features else fps[0], fa)
    return [_row(name, a.label, b.label, value, n_a, n_b, record) for name, value in metric.score(spec, fa, fb, record, seed)]


def _row(metric: str, a: str, b: str, value: float, n_a, n_b, record: dict) -> dict:
    return {"metric": metric, "a": a, "b": b, "value": float(value), "n_a": n_a, "n_b": n_b, "record": record}


def sets_to_rows(store: Store, req: SetsRequest, base_dir: str = ".") -> dict:
    """Check every input and option first (nothing written on bad input), then keep the new images, extract what the
    metrics need (cached features reused), score A against B, save A's statistics if asked."""
    if req.save_stats:
        check_name(req.save_stats)
    try:
        a = resolve_input(store, req.a, base_dir)
        b = resolve_input(store, req.b, base_dir) if req.b else None
        if req.save_stats and not a.images:
            raise BadInput(f"--save-stats {req.save_stats}: {a.label} is already statistics; save a set of images")
        inputs = [a] + ([b] if b else [])
        req = checks.saved_defaults(req, inputs)
        spec, metrics = chosen_metrics(req, inputs)
        ctx = SetsContext(store, spec, a, b, pick_device(req.device))
        jobs = merge_jobs(j for m in metrics for j in m.jobs(ctx))
        for inp in inputs:
            _check_saved(inp, jobs)
        checks.check_sizes(inputs, spec_preprocess(spec))
        checks.check_weights(store, jobs, spec_weights(spec), ctx.device, spec.metrics.inception_resize)
    except BadInput as exc:
        raise checks.in_option_words(exc, req) from None
    for inp in inputs:
        keep_images(store, inp)
    counts = [run_job(store, job) for job in jobs]
    rows = [row for m in metrics for row in score_metric(store, spec, ctx, m)] if b else []
    out = {"a": a.label, "b": b.label if b else None, "rows": rows,
           "counts": {"features_extracted": sum(c[0] for c in counts), "features_reused": sum(c[1] for c in counts)}}
    if req.save_stats:
        out["saved"] = _save(store, spec, ctx, jobs, req.save_stats)
    return out


def _save(store: Store, spec: EvalSpec, ctx: SetsContext, jobs: list[Job], name: str) -> dict:
    """A's content keys and extractor fingerprints under `name`, with an .npz of its Inception pool statistics."""
    a = ctx.a
    inception = next((j.extractor.fingerprint for j in jobs if j.extractor.name == "inception"), None)
    mu, sigma = _gaussian(store, inception, a) if inception else (None, None)
    record = {"n": len(a.shas), "formats": list(a.formats), "preprocess": spec_preprocess(spec).fingerprint(),
              "weights": spec_weights(spec) or "torch-fidelity default URL", "source": a.label}
    saved = save_stats(store, name, list(a.shas), [j.extractor.fingerprint for j in jobs], record, mu, sigma)
    return {"name": name, "n": len(a.shas), "npz": saved["path"], "extractors": [j.extractor.fingerprint for j in jobs]}
