"""CMMD (Jayasumana et al., CVPR 2024): MMD^2 with a Gaussian RBF kernel on CLIP embeddings, x 1000.

As google-research cmmd/distance.py: k(x, y) = exp(-||x - y||^2 / (2 sigma^2)), sigma = 10, on
L2-normalised CLIP ViT-L/14@336 image embeddings; the biased (minimum-variance) estimator
mean(Kxx) + mean(Kyy) - 2 mean(Kxy) over the full kernel matrices, diagonals included. The unbiased
estimator leaves the diagonals out of Kxx and Kyy. Each row's record says which (`cmmd_estimator`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from artifacts.errors import BadInput
from tasks.extractors.cmmd_clip import cmmd_job, spec_cmmd_extractor
from tasks.values.metric import SetMetric, register
from tasks.metrics.stats import as_2d
from tasks.spec_metrics import Frozen
from tasks.values.names import CMMD

SCALE = 1000.0
ESTIMATORS = ("biased", "unbiased")


def _rbf(x: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
    """exp(-gamma ||x_i - y_j||^2), the squared distance expanded as cmmd does."""
    sq = -2.0 * x @ y.T + (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :]
    return torch.exp(-gamma * sq)


def embeddings_to_cmmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0, estimator: str = "biased") -> float:
    """CMMD between two embedding sets (rows as given: the extractor has normalised them), in float64."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator {estimator!r}: use one of {', '.join(ESTIMATORS)}")
    a, b = torch.from_numpy(as_2d(x).astype(np.float64)), torch.from_numpy(as_2d(y).astype(np.float64))
    n, m = a.shape[0], b.shape[0]
    if min(n, m) < 2:
        raise BadInput(f"cmmd: needs at least 2 images on each side (got {n} real, {m} generated); add images")
    gamma = 1.0 / (2.0 * sigma**2)
    k_xx, k_yy, k_xy = _rbf(a, a, gamma), _rbf(b, b, gamma), _rbf(a, b, gamma)
    if estimator == "biased":
        within = k_xx.mean() + k_yy.mean()
    else:
        within = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1)) + (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(SCALE * (within - 2.0 * k_xy.mean()))


def fit(spec, n_real: int, n_fake: int) -> tuple[dict, list[str]]:  # noqa: ARG001
    """Nothing to cut; the record carries the estimator, sigma and transform so every row says which."""
    settings = spec.metrics.cmmd
    return {"cmmd_estimator": settings.estimator, "cmmd_sigma": settings.sigma, "cmmd_transform": settings.transform}, []


def set_values(spec, real: dict, fake: dict, used: dict, seed: int) -> list[tuple[str, float]]:  # noqa: ARG001
    return [(CMMD, embeddings_to_cmmd(real["embed"], fake["embed"], used["cmmd_sigma"], used["cmmd_estimator"]))]


class CmmdSpec(Frozen):
    model: str = "openai/clip-vit-large-patch14-336"  # the CMMD paper's embedding model
    # biased: google-research cmmd/distance.py (full kernel means, diagonals included); unbiased: diagonals left out.
    estimator: Literal["biased", "unbiased"] = "biased"
    sigma: float = Field(default=10.0, gt=0)
    # io_util: google-research cmmd reading files (center crop to a square, PIL bicubic to the CLIP input size),
    # then embedding.py; torch-bicubic: embedding.py alone on the whole image (aspect ratio squashed; diffeval < 0.2).
    transform: Literal["io_util", "torch-bicubic"] = "io_util"
    batch_size: int = Field(default=32, gt=0)


METRIC = register(SetMetric(
    name=CMMD, better="lower", reference_test="tests/metrics/test_cmmd_from_files.py::test_cmmd_from_files_equals_google_research_cmmd",
    jobs=lambda ctx: [cmmd_job(ctx)], score=set_values, fit=fit, features=spec_cmmd_extractor,
    settings=CmmdSpec, model_kind="clip", needs_reference=True, rank=70,
))
