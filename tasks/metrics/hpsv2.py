"""HPS v2 (Wu et al., 2023): an open_clip ViT-H-14 fine-tuned on HPD v2 human preferences.

As hpsv2.score computes it: per image, cos(image embedding, prompt embedding) of the fine-tuned
model (no logit scale: values near 0.25-0.30 for real checkpoints). Aggregated and compared like
CLIP score, as a plain mean.
"""

from __future__ import annotations

import numpy as np

from artifacts.keys import sha256_text
from tasks.extractors.hps import hps_extractors
from tasks.extractors.registry import Extractor, Job
from tasks.metrics.pickscore import preference_scores
from tasks.metrics.registry import Metric, register
from tasks.names import HPSV2


def _extractors(ctx) -> tuple[Extractor, Extractor]:
    cfg = ctx.spec.metrics.hpsv2
    return hps_extractors(ctx.prepared.metric_models[HPSV2], cfg.arch, ctx.device, cfg.batch_size)


def jobs(ctx) -> list[Job]:
    """Every generated image, and the text of every condition."""
    image, text = _extractors(ctx)
    return [ctx.image_job(image), Job(text, {sha256_text(c.text): c.text for c in ctx.conditions})]


def score(ctx) -> np.ndarray:
    """Per item cos(its image, its prompt), from cached embeddings."""
    image, text = _extractors(ctx)
    text_embeds = ctx.gather(text, [sha256_text(ctx.condition(i).text) for i in ctx.items])["embed"]
    return preference_scores(ctx.item_features(image)["embed"], text_embeds, 1.0)


METRIC = register(Metric(
    HPSV2, "sample", "higher", "mean", "tests/metrics/test_preference.py::test_hpsv2_matches_open_clip_directly",
    jobs, score, enabled=lambda spec: spec.metrics.hpsv2 is not None,
))
