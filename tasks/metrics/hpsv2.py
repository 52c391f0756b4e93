"""HPS v2 (Wu et al., 2023): an open_clip ViT-H-14 fine-tuned on HPD v2 human preferences.

As hpsv2.score computes it: per image, cos(image embedding, prompt embedding) of the fine-tuned
model (no logit scale: values near 0.25-0.30 for real checkpoints). Aggregated and compared like
CLIP score, as a plain mean.
"""

from __future__ import annotations

import numpy as np

from tasks.extractors.hps import hps_extractors
from tasks.extractors.registry import Extractor, Job
from tasks.metrics.clip_score import image_text_embeds, image_text_jobs
from tasks.metrics.pickscore import preference_scores
from tasks.values.metric import Metric, register
from tasks.values.names import HPSV2


def _extractors(ctx) -> tuple[Extractor, Extractor]:
    cfg = ctx.spec.metrics.hpsv2
    return hps_extractors(ctx.prepared.metric_models[HPSV2], cfg.arch, ctx.device, cfg.batch_size)


def jobs(ctx) -> list[Job]:
    return image_text_jobs(ctx, *_extractors(ctx))


def score(ctx) -> np.ndarray:
    """Per item cos(its image, its prompt), from cached embeddings."""
    return preference_scores(*image_text_embeds(ctx, *_extractors(ctx)), 1.0)


METRIC = register(Metric(
    HPSV2, "sample", "higher", "mean", "tests/metrics/test_preference.py::test_hpsv2_matches_open_clip_directly",
    jobs, score, enabled=lambda spec: spec.metrics.hpsv2 is not None,
))
