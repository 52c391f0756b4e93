"""Precision, recall, density and coverage: fidelity and diversity apart, on cached Inception or DINOv2 features.

Precision / recall as Kynkaenniemi et al. 2019 (k = 3): a sample is inside a set's manifold when it
lies within the k-th-nearest-neighbour radius (self excluded) of some sample of that set, `<=` as
their code and torch-fidelity's metric_prc; precision = share of generated samples inside the real
manifold, recall = share of real samples inside the generated one. Density / coverage as Naeem et
al. 2020 (k = 5, clovaai's prdc, `<`): density = (1 / k m) * sum over generated samples of the number
of real balls holding it; coverage = share of real samples whose ball holds some generated sample.

Argument order matters (torch-fidelity's tracker has a swapped-order report): `real` first, always.
Distances in float64, a block of rows at a time, so memory stays O(block x n).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from artifacts.errors import BadInput
from pydantic import Field

from tasks.metrics.stats import as_2d
from tasks.spec_metrics import Frozen
from tasks.values.metric import SetMetric, register

BLOCK = 4096
NAMES = ("precision", "recall", "density", "coverage")


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(as_2d(x), dtype=np.float64))


def kth_neighbour_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row (the row itself, at 0, is the first)."""
    return torch.cat([torch.cdist(x[s : s + BLOCK], x).kthvalue(k + 1, dim=1).values for s in range(0, len(x), BLOCK)])


def _inside_any(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Per point: whether some centre's ball (distance <= its radius) holds it."""
    return torch.cat([(torch.cdist(points[s : s + BLOCK], centres) <= radii[None, :]).any(dim=1)
                      for s in range(0, len(points), BLOCK)])


def _check(real: torch.Tensor, fake: torch.Tensor, k: int, who: str) -> None:
    if min(len(real), len(fake)) <= k:
        raise BadInput(f"{who}: k = {k} needs more than {k} images on each side (got {len(real)} real, "
                       f"{len(fake)} generated); add images or lower k")


def features_to_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of the generated set `fake` against the real set `real`, Kynkaenniemi et al."""
    x, y = _t(real), _t(fake)
    _check(x, y, k, "precision/recall")
    precision = _inside_any(y, x, kth_neighbour_radii(x, k)).double().mean()
    recall = _inside_any(x, y, kth_neighbour_radii(y, k)).double().mean()
    return float(precision), float(recall)


def features_to_density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """(density, coverage) of `fake` against `real`, Naeem et al. (real balls only, strict `<`)."""
    x, y = _t(real), _t(fake)
    _check(x, y, k, "density/coverage")
    radii = kth_neighbour_radii(x, k)
    held = sum(float((torch.cdist(y[s : s + BLOCK], x) < radii[None, :]).sum()) for s in range(0, len(y), BLOCK))
    nearest = torch.cat([torch.cdist(x[s : s + BLOCK], y).min(dim=1).values for s in range(0, len(x), BLOCK)])
    return held / (k * len(y)), float((nearest < radii).double().mean())


def features_to_prdc(real: np.ndarray, fake: np.ndarray, nearest_k: int = 3, density_k: int = 5) -> dict[str, float]:
    """All four, real set first: {precision, recall, density, coverage}."""
    precision, recall = features_to_precision_recall(real, fake, nearest_k)
    density, coverage = features_to_density_coverage(real, fake, density_k)
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


_LAST: dict[tuple, dict[str, float]] = {}


def cached_prdc(real: np.ndarray, fake: np.ndarray, nearest_k: int, density_k: int) -> dict[str, float]:
    """features_to_prdc, remembered for the last pair of sets: the four rows of one set share one computation."""
    key = tuple(hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() + str(a.shape) for a in (real, fake))
    key += (nearest_k, density_k)
    if key not in _LAST:
        _LAST.clear()
        _LAST[key] = features_to_prdc(real, fake, nearest_k, density_k)
    return _LAST[key]


# --- registered metrics: one row per quantity and extractor, the extractor in the name and the record ---

def _fit(section: str, suffix: str):
    def fit(spec, n_real: int, n_fake: int) -> tuple[dict, list[str]]:
        cfg, room = getattr(spec.metrics, section) or PrdcSpec(), min(n_real, n_fake) - 1  # `diffeval sets --metric`: defaults
        used = {f"prdc_{suffix}_nearest_k": max(1, min(cfg.nearest_k, room)), f"prdc_{suffix}_density_k": max(1, min(cfg.density_k, room))}
        cut = [f"prdc_{suffix} k {want} -> {used[key]}" for key, want in
               ((f"prdc_{suffix}_nearest_k", cfg.nearest_k), (f"prdc_{suffix}_density_k", cfg.density_k)) if used[key] < want]
        return used, cut
    return fit


def _quiet_fit(fit):
    return lambda spec, n_real, n_fake: (fit(spec, n_real, n_fake)[0], [])  # one metric of the four says what was cut


class PrdcSpec(Frozen):
    """Precision / recall (k nearest_k, Kynkaenniemi et al.) and density / coverage (k density_k, Naeem et al.)
    on the FID Inception's pool features."""

    nearest_k: int = Field(default=3, gt=0)
    density_k: int = Field(default=5, gt=0)


class PrdcDinov2Spec(PrdcSpec):
    """The same four on DINOv2 CLS features (the FD-DINOv2 extractor: one cache when the model is the same)."""

    model: str = "facebook/dinov2-large"
    batch_size: int = Field(default=32, gt=0)


def register_prdc(suffix: str, section: str, settings: type[PrdcSpec], model_kind: str | None, rank: int,
                  jobs, features, column: str, test: str) -> list:
    """The four metrics `<quantity>_<suffix>` on one extractor's `column` features, enabled by metrics.<section>."""
    fit = _fit(section, suffix)
    out = []
    for i, name in enumerate(NAMES):
        def score(spec, real, fake, used, seed, name=name):  # noqa: ARG001
            values = cached_prdc(real[column], fake[column], used[f"prdc_{suffix}_nearest_k"], used[f"prdc_{suffix}_density_k"])
            return [(f"{name}_{suffix}", values[name])]
        out.append(register(SetMetric(
            name=f"{name}_{suffix}", better="higher", reference_test=test, jobs=jobs, score=score, settings=settings,
            spec_key=section, model_kind=model_kind, needs_reference=True, rank=rank + i,
            fit=fit if i == 0 else _quiet_fit(fit), features=features, module=__name__)))
    return out


def _dinov2_extractor(ctx):
    from tasks.extractors.dinov2 import dinov2_extractor
    from tasks.extractors.inception import spec_preprocess
    from tasks.extractors.set_images import sources_of

    cfg = ctx.spec.metrics.prdc_dinov2
    return dinov2_extractor(ctx.prepared.metric_models["prdc_dinov2"], spec_preprocess(ctx.spec), ctx.device, sources_of(ctx),
                            cfg.batch_size)


def _inception_jobs(ctx):
    from tasks.extractors.inception import inception_job
    return [inception_job(ctx)]


def _dinov2_jobs(ctx):
    from tasks.extractors.set_images import set_job
    return [set_job(ctx, _dinov2_extractor(ctx))]


_TEST = "tests/metrics/test_prdc.py::test_prdc_equals_the_prdc_package_and_torch_fidelity"
INCEPTION = register_prdc("inception", "prdc", PrdcSpec, None, 120, _inception_jobs, None, "pool", _TEST)
DINOV2 = register_prdc("dinov2", "prdc_dinov2", PrdcDinov2Spec, "dinov2", 130, _dinov2_jobs, _dinov2_extractor, "cls", _TEST)
