"""KID: unbiased polynomial-kernel MMD^2 over random subsets, sampled as torchmetrics' KernelInceptionDistance."""

from __future__ import annotations

import numpy as np
import torch

from pydantic import Field

from artifacts.errors import BadInput
from tasks.extractors.inception import inception_job
from tasks.values.metric import SetMetric, register
from tasks.metrics.stats import as_2d, torch_generator
from tasks.spec_metrics import Frozen
from tasks.values.names import KID, KID_STD


def _poly_mmd(x: torch.Tensor, y: torch.Tensor, degree: int, gamma: float | None, coef: float) -> torch.Tensor:
    """Unbiased MMD^2 with the polynomial kernel (x.y * gamma + coef)^degree, as torchmetrics."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    k_xx = (x @ x.T * gamma + coef) ** degree
    k_yy = (y @ y.T * gamma + coef) ** degree
    k_xy = (x @ y.T * gamma + coef) ** degree
    m = x.shape[0]
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2.0 * k_xy.sum() / (m * m)


def features_to_kid(
    real: np.ndarray,
    fake: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    seed: int | torch.Generator = 0,
) -> tuple[float, float]:
    """KID (mean, population std over random subsets), sampled as torchmetrics' KernelInceptionDistance.

    subset_size must fit both sets: the stage cuts the spec's to the smaller set and records it.
    """
    x, y = torch.from_numpy(as_2d(real)), torch.from_numpy(as_2d(fake))
    n_real, n_fake = x.shape[0], y.shape[0]
    if min(n_real, n_fake) < 2:
        raise BadInput(f"kid: needs at least 2 images on each side (got {n_real} real, {n_fake} generated); add images")
    if not 2 <= subset_size <= min(n_real, n_fake):
        raise ValueError(f"subset_size {subset_size} does not fit 2..{min(n_real, n_fake)} (the smaller set)")
    gen = torch_generator(seed)
    # Real then fake permutation per subset: the order torchmetrics draws them in.
    draws = [(torch.randperm(n_real, generator=gen)[:subset_size], torch.randperm(n_fake, generator=gen)[:subset_size])
             for _ in range(subsets)]
    if n_real + n_fake <= KERNEL_CACHE_MAX:
        values = _kid_from_kernels(x, y, draws, degree, gamma, coef)
    else:
        values = torch.stack([_poly_mmd(x[i], y[j], degree, gamma, coef) for i, j in draws])
    return float(values.mean()), float(values.std(unbiased=False))


# Up to this many images in all, the kernel matrices of the whole sets are computed once (at most
# 4096^2 float64 = 128 MiB over the three blocks) and each subset reads its entries, a chunk of
# subsets at a time, instead of `subsets` rounds of small matrix products; above it, each subset
# is computed on its own.
KERNEL_CACHE_MAX = 4096


def _kid_from_kernels(x: torch.Tensor, y: torch.Tensor, draws: list, degree: int, gamma: float | None, coef: float) -> torch.Tensor:
    """The subsets' unbiased MMD^2 read off the kernels of the whole sets (same entries, one product each)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    k_xx = (x @ x.T * gamma + coef) ** degree
    k_yy = (y @ y.T * gamma + coef) ** degree
    k_xy = (x @ y.T * gamma + coef) ** degree
    m = draws[0][0].shape[0]
    step = max(1, (1 << 22) // (m * m))  # subsets per chunk: about 32 MiB per gathered block
    out = []
    for start in range(0, len(draws), step):
        i = torch.stack([d[0] for d in draws[start : start + step]])  # [chunk, m]
        j = torch.stack([d[1] for d in draws[start : start + step]])
        sub_xx = k_xx[i[:, :, None], i[:, None, :]]
        sub_yy = k_yy[j[:, :, None], j[:, None, :]]
        sub_xy = k_xy[i[:, :, None], j[:, None, :]]
        within = (sub_xx.sum((1, 2)) - sub_xx.diagonal(dim1=1, dim2=2).sum(1)
                  + sub_yy.sum((1, 2)) - sub_yy.diagonal(dim1=1, dim2=2).sum(1)) / (m * (m - 1))
        out.append(within - 2.0 * sub_xy.sum((1, 2)) / (m * m))
    return torch.cat(out)


def fit(spec, n_real: int, n_fake: int) -> tuple[dict, list[str]]:
    """The subset size a set of this size takes: the spec's, cut to the smaller set (and said so)."""
    wanted = spec.metrics.kid.subset_size
    used = min(wanted, n_real, n_fake)
    return {"kid_subset_size": used}, ([f"kid subset_size {wanted} -> {used}"] if used < wanted else [])


def set_values(spec, real: dict, fake: dict, used: dict, seed: int) -> list[tuple[str, float]]:
    k = spec.metrics.kid
    mean, std = features_to_kid(real["pool"], fake["pool"], k.subsets, used["kid_subset_size"], k.degree, k.gamma, k.coef, seed)
    return [(KID, mean), (KID_STD, std)]


class KidSpec(Frozen):
    subsets: int = Field(default=100, gt=0)
    subset_size: int = Field(default=1000, ge=2)  # the unbiased MMD estimate needs 2 images per subset
    degree: int = Field(default=3, gt=0)
    gamma: float | None = None
    coef: float = 1.0


METRIC = register(SetMetric(
    name=KID, better="lower", reference_test="tests/metrics/test_fid.py::test_kid_matches_torchmetrics_with_the_same_seed",
    jobs=lambda ctx: [inception_job(ctx)], score=set_values, fit=fit, settings=KidSpec, needs_reference=True, rank=40,
))
