"""FID: the Frechet distance between Gaussians fitted to Inception pool features (float64 throughout)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from artifacts.errors import BadInput
from tasks.extractors.inception import inception_job
from tasks.values.metric import SetMetric, register
from tasks.metrics.stats import as_2d
from tasks.spec_metrics import Frozen
from tasks.values.names import FID


@dataclass
class GaussianStats:
    """Running sums of features (torchmetrics' FID state): n, sum x, sum x x^T in float64."""

    n: float
    sum: np.ndarray
    sum_outer: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> "GaussianStats":
        return cls(0.0, np.zeros(dim, np.float64), np.zeros((dim, dim), np.float64))

    def update(self, features: np.ndarray) -> None:
        """Accumulate a [N, d] batch in place."""
        x = as_2d(features)
        if x.shape[1] != self.sum.shape[0]:
            raise ValueError(f"features have dimension {x.shape[1]}, stats have {self.sum.shape[0]}")
        self.n += float(x.shape[0])
        self.sum += x.sum(axis=0)
        self.sum_outer += x.T @ x

    def merge(self, other: "GaussianStats") -> "GaussianStats":
        """The stats of both feature sets together (a new object; merging is addition)."""
        return GaussianStats(self.n + other.n, self.sum + other.sum, self.sum_outer + other.sum_outer)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and unbiased covariance, as torchmetrics derives them from the sums."""
        if self.n < 2:
            raise BadInput(f"fid: {self.n:g} image(s) in a set; FID needs at least 2 real and 2 generated images")
        mean = self.sum / self.n
        cov = (self.sum_outer - self.n * np.outer(mean, mean)) / (self.n - 1)
        return mean, cov


def features_to_stats(features: np.ndarray) -> GaussianStats:
    """GaussianStats of one [N, d] feature array."""
    stats = GaussianStats.empty(as_2d(features).shape[1])
    stats.update(features)
    return stats


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1-mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), with tr (S1 S2)^1/2 from symmetric eigenvalues.

    tr sqrt(S1 S2) = sum sqrt(eig(S1^1/2 S2 S1^1/2)): the eigenvalues torchmetrics takes of S1 @ S2
    (a similar matrix), but from symmetric solvers, so they come out real and no sqrtm is needed.
    """
    mu1, mu2, s1, s2 = _checked(mu1, sigma1, mu2, sigma2)
    w1, v1 = np.linalg.eigh(s1)
    root1 = (v1 * np.sqrt(np.clip(w1, 0.0, None))) @ v1.T
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def _checked(mu1, sigma1, mu2, sigma2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"shape mismatch: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} {s2.shape}")
    if not all(np.isfinite(a).all() for a in (mu1, mu2, s1, s2)):
        raise ValueError("non-finite mean or covariance (NaN/inf in the features?)")
    return mu1, mu2, s1, s2


def stats_to_fid(real: GaussianStats, fake: GaussianStats) -> float:
    """FID between the Gaussians of two feature sets."""
    mu1, sigma1 = real.mean_cov()
    mu2, sigma2 = fake.mean_cov()
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def features_to_fid(real: np.ndarray, fake: np.ndarray) -> float:
    """FID of two feature sets: the running-sum path, or an exact shortcut when both sets are small.

    With A, B the centred features (n1 x d, n2 x d), S1 S2 = A'(A B')B / c and its non-zero
    eigenvalues are those of M M' with M = A B' (n1 x n2), so tr sqrt(S1 S2) is the sum of the
    singular values of M over sqrt(c), c = (n1-1)(n2-1). Same number, and an n x n problem instead
    of two d x d eigen-decompositions (seconds each at d = 2048 on a CPU).
    """
    x, y = as_2d(real).astype(np.float64), as_2d(fake).astype(np.float64)
    n1, n2, d = x.shape[0], y.shape[0], x.shape[1]
    if n1 + n2 >= d:
        return stats_to_fid(features_to_stats(x), features_to_stats(y))
    if min(n1, n2) < 2:
        raise BadInput(f"fid: needs at least 2 images on each side (got {n1} real, {n2} generated); add images")
    a, b = x - x.mean(0), y - y.mean(0)
    diff = x.mean(0) - y.mean(0)
    trace = (a * a).sum() / (n1 - 1) + (b * b).sum() / (n2 - 1)
    nuclear = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    return float(diff @ diff + trace - 2.0 * nuclear)


def set_values(spec, real: dict, fake: dict, used: dict, seed: int) -> list[tuple[str, float]]:  # noqa: ARG001
    return [(FID, features_to_fid(real["pool"], fake["pool"]))]


class FidSpec(Frozen):
    pass


METRIC = register(SetMetric(
    name=FID, better="lower", reference_test="tests/metrics/test_fid.py::test_fid_end_to_end_matches_torchmetrics",
    jobs=lambda ctx: [inception_job(ctx)], score=set_values, settings=FidSpec, needs_reference=True, rank=30,
))
