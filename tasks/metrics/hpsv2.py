"""HPS v2 (Wu et al., 2023): an open_clip ViT-H-14 fine-tuned on HPD v2 human preferences.

As hpsv2.score computes it: per image, cos(image embedding, prompt embedding) of the fine-tuned
model (no logit scale: values near 0.25-0.30 for real checkpoints). Aggregated and compared like
CLIP score, as a plain mean.
"""

from __future__ import annotations

import numpy as np

from pydantic import Field

from tasks.extractors.hps import hps_extractors
from tasks.extractors.registry import Extractor, Job
from tasks.metrics.clip_score import image_text_embeds, image_text_jobs
from tasks.metrics.pickscore import preference_scores
from tasks.values.metric import SampleMetric, register
from tasks.spec_metrics import Frozen
from tasks.values.names import HPSV2


def _extractors(ctx) -> tuple[Extractor, Extractor]:
    cfg = ctx.spec.metrics.hpsv2
    return hps_extractors(ctx.prepared.metric_models[HPSV2], cfg.arch, ctx.device, cfg.batch_size)


def jobs(ctx) -> list[Job]:
    return image_text_jobs(ctx, *_extractors(ctx))


def score(ctx) -> np.ndarray:
    """Per item cos(its image, its prompt), from cached embeddings."""
    return preference_scores(*image_text_embeds(ctx, *_extractors(ctx)), 1.0)


class Hpsv2Spec(Frozen):
    model: str = "xswu/HPSv2"  # a folder or hub repo with an open_clip checkpoint (HPS_v2_compressed.pt)
    arch: str = "ViT-H-14"  # open_clip architecture, used when the folder has no open_clip_config.json
    batch_size: int = Field(default=32, gt=0)


METRIC = register(SampleMetric(
    name=HPSV2, better="higher", aggregate="mean",
    reference_test="tests/metrics/test_preference.py::test_hpsv2_matches_open_clip_directly",
    jobs=jobs, score=score, settings=Hpsv2Spec, model_kind="open_clip", rank=90,
))
