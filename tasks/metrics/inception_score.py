"""Inception Score: exp of the mean KL between each image's class distribution and the split's marginal."""

from __future__ import annotations

import numpy as np
import torch

from pydantic import Field

from artifacts.errors import BadInput
from tasks.extractors.inception import inception_job
from tasks.values.metric import SetMetric, register
from tasks.metrics.stats import as_2d, torch_generator
from tasks.spec_metrics import Frozen
from tasks.values.names import IS, IS_STD


def logits_to_inception_score(
    logits: np.ndarray, splits: int = 10, seed: int | torch.Generator = 0
) -> tuple[float, float]:
    """Inception Score (mean, sample std over splits), computed as torchmetrics' InceptionScore.

    Like torchmetrics, rows are shuffled with torch.randperm and cut with torch.chunk, which makes
    ceil(N / splits)-sized parts and so can give fewer than `splits` of them; one part gives std NaN.
    splits must not exceed N: the stage cuts the spec's to the set and records it.
    """
    x = torch.from_numpy(as_2d(logits))
    n = x.shape[0]
    if n < 2:
        raise BadInput(f"inception score: needs at least 2 generated images (got {n}); add images")
    if not 1 <= splits <= n:
        raise ValueError(f"splits {splits} does not fit 1..{n} (the number of images)")
    x = x[torch.randperm(n, generator=torch_generator(seed))]
    prob, log_prob = x.softmax(dim=1), x.log_softmax(dim=1)
    scores = []
    for p, log_p in zip(prob.chunk(splits, dim=0), log_prob.chunk(splits, dim=0)):
        log_mean = p.mean(dim=0, keepdim=True).log()
        # 0 * log 0 terms are 0 (torchmetrics would give NaN where a probability underflows).
        kl = torch.where(p > 0, p * (log_p - log_mean), torch.zeros_like(p))
        scores.append(kl.sum(dim=1).mean().exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std())


def fit(spec, n_real: int, n_fake: int) -> tuple[dict, list[str]]:  # noqa: ARG001 (IS reads generated images only)
    """The splits a set of this size takes: the spec's, cut to the number of images (and said so)."""
    wanted = spec.metrics.inception_score.splits
    used = min(wanted, n_fake)
    return {"is_splits": used}, ([f"is splits {wanted} -> {used}"] if used < wanted else [])


def set_values(spec, real: dict, fake: dict, used: dict, seed: int) -> list[tuple[str, float]]:  # noqa: ARG001
    mean, std = logits_to_inception_score(fake["logits"], used["is_splits"], seed)
    return [(IS, mean), (IS_STD, std)]


class InceptionScoreSpec(Frozen):
    splits: int = Field(default=10, gt=0)


# Not per class: the score of a single class says nothing (its marginal is that class).
METRIC = register(SetMetric(
    name=IS, better="higher", reference_test="tests/metrics/test_fid.py::test_inception_score_matches_torchmetrics_with_the_same_seed",
    jobs=lambda ctx: [inception_job(ctx)], score=set_values, fit=fit, per_class=False, reads_reference=False,
    settings=InceptionScoreSpec, spec_field="inception_score", rank=50,  # `is` is a Python keyword
))
