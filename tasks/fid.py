"""FID, KID and Inception Score from feature arrays: the math only, no I/O, float64 throughout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from artifacts.errors import BadInput


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
        x = _as_2d(features)
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


def _as_2d(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected features of shape [N, d], got {x.shape}")
    return x


def features_to_stats(features: np.ndarray) -> GaussianStats:
    """GaussianStats of one [N, d] feature array."""
    stats = GaussianStats.empty(_as_2d(features).shape[1])
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


def frechet_distance_sqrtm(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """The classic form (pytorch-fid / torch-fidelity): scipy sqrtm of S1 S2, eps on the diagonal if singular."""
    import scipy.linalg  # here: only this reference form needs scipy, and importing it costs a run ~0.3 s

    mu1, mu2, s1, s2 = _checked(mu1, sigma1, mu2, sigma2)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm: imaginary component {np.max(np.abs(covmean.imag)):g}")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


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
    x, y = _as_2d(real).astype(np.float64), _as_2d(fake).astype(np.float64)
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


def _generator(seed: int | torch.Generator) -> torch.Generator:
    # A CPU generator seeded with s draws what torch.manual_seed(s) then torch.randperm draws.
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))


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
    x, y = torch.from_numpy(_as_2d(real)), torch.from_numpy(_as_2d(fake))
    n_real, n_fake = x.shape[0], y.shape[0]
    if min(n_real, n_fake) < 2:
        raise BadInput(f"kid: needs at least 2 images on each side (got {n_real} real, {n_fake} generated); add images")
    if not 2 <= subset_size <= min(n_real, n_fake):
        raise ValueError(f"subset_size {subset_size} does not fit 2..{min(n_real, n_fake)} (the smaller set)")
    gen = _generator(seed)
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


def logits_to_inception_score(
    logits: np.ndarray, splits: int = 10, seed: int | torch.Generator = 0
) -> tuple[float, float]:
    """Inception Score (mean, sample std over splits), computed as torchmetrics' InceptionScore.

    Like torchmetrics, rows are shuffled with torch.randperm and cut with torch.chunk, which makes
    ceil(N / splits)-sized parts and so can give fewer than `splits` of them; one part gives std NaN.
    splits must not exceed N: the stage cuts the spec's to the set and records it.
    """
    x = torch.from_numpy(_as_2d(logits))
    n = x.shape[0]
    if n < 2:
        raise BadInput(f"inception score: needs at least 2 generated images (got {n}); add images")
    if not 1 <= splits <= n:
        raise ValueError(f"splits {splits} does not fit 1..{n} (the number of images)")
    x = x[torch.randperm(n, generator=_generator(seed))]
    prob, log_prob = x.softmax(dim=1), x.log_softmax(dim=1)
    scores = []
    for p, log_p in zip(prob.chunk(splits, dim=0), log_prob.chunk(splits, dim=0)):
        log_mean = p.mean(dim=0, keepdim=True).log()
        # 0 * log 0 terms are 0 (torchmetrics would give NaN where a probability underflows).
        kl = torch.where(p > 0, p * (log_p - log_mean), torch.zeros_like(p))
        scores.append(kl.sum(dim=1).mean().exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std())
