"""Honest statistics: seeded percentile bootstrap over prompts, paired differences on matched samples."""

from __future__ import annotations

import numpy as np


def bootstrap_mean_ci(values: np.ndarray, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of `values` (one value per resampling unit); NaN for n < 2.

    One unit resamples to itself: a CI equal to the value would claim a certainty that nothing measured.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def group_means(units: list, values: np.ndarray) -> tuple[list, np.ndarray]:
    """Mean of `values` per unit (e.g. per prompt over its seeds and samples), units in first-seen order."""
    order = list(dict.fromkeys(units))
    position = {u: i for i, u in enumerate(order)}
    idx = np.fromiter((position[u] for u in units), dtype=np.int64, count=len(units))
    sums = np.bincount(idx, weights=np.asarray(values, dtype=np.float64), minlength=len(order))
    counts = np.bincount(idx, minlength=len(order))
    return order, sums / counts


def paired_difference(a: dict, b: dict, unit_of, resamples: int = 1000, seed: int = 0) -> dict:
    """Compare two models on the samples both have.

    `a` and `b` map a sample id (prompt, seed, sample index) to its value; `unit_of(sample)` names its
    resampling unit (the prompt). diff = mean over units of (a - b); the CI resamples units; the win
    rate counts matched samples where a beats b, ties as half.
    """
    shared = [s for s in a if s in b]
    if not shared:
        return {"diff": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "win_rate": float("nan"), "n": 0}
    delta = np.array([a[s] - b[s] for s in shared], dtype=np.float64)
    _, per_unit = group_means([unit_of(s) for s in shared], delta)
    low, high = bootstrap_mean_ci(per_unit, resamples, seed)
    wins = float(np.mean((delta > 0) + 0.5 * (delta == 0)))
    return {"diff": float(per_unit.mean()), "ci_low": low, "ci_high": high, "win_rate": wins, "n": int(per_unit.size)}


def as_2d(features: np.ndarray) -> np.ndarray:
    """Features as a float64 [N, d] array (a ValueError for any other shape)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected features of shape [N, d], got {x.shape}")
    return x


def torch_generator(seed: "int | torch.Generator") -> "torch.Generator":
    """A CPU torch.Generator seeded with `seed` (a generator passes through)."""
    import torch  # why here: aggregation and bootstrap need numpy only

    # A CPU generator seeded with s draws what torch.manual_seed(s) then torch.randperm draws.
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
