"""CLIP score as torchmetrics computes it: per image 100 * cos(image, its prompt); a group's value max(mean, 0)."""

from __future__ import annotations

import numpy as np

from pydantic import Field

from artifacts.keys import sha256_text
from tasks.extractors.clip import clip_extractors
from tasks.extractors.registry import Extractor, Job
from tasks.values.metric import SampleMetric, register
from tasks.spec_metrics import Frozen
from tasks.values.names import CLIP_SCORE


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float64 for the cosine arithmetic that follows)."""
    v = vectors.astype(np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def clip_scores(image_embeds: np.ndarray, text_embeds: np.ndarray) -> np.ndarray:
    """Per pair 100 * cos(image, text), torchmetrics' per-sample CLIP score."""
    return 100.0 * np.sum(normalize(image_embeds) * normalize(text_embeds), axis=-1)


def _extractors(ctx) -> tuple[Extractor, Extractor]:
    cfg = ctx.spec.metrics.clip_score
    return clip_extractors(ctx.prepared.metric_models[CLIP_SCORE], ctx.device, cfg.batch_size)


def image_text_jobs(ctx, image: Extractor, text: Extractor) -> list[Job]:
    """Every generated image, and the text of every condition: what an image-text metric reads."""
    return [ctx.image_job(image), Job(text, {sha256_text(c.text): c.text for c in ctx.conditions})]


def image_text_embeds(ctx, image: Extractor, text: Extractor) -> tuple[np.ndarray, np.ndarray]:
    """Per item the cached embeddings of its image and of its condition's text, rows in item order."""
    text_embeds = ctx.gather(text, [sha256_text(ctx.condition(i).text) for i in ctx.items])["embed"]
    return ctx.item_features(image)["embed"], text_embeds


def jobs(ctx) -> list[Job]:
    return image_text_jobs(ctx, *_extractors(ctx))


def score(ctx) -> np.ndarray:
    """Per item 100 * cos(its image, its condition's text), from cached embeddings."""
    return clip_scores(*image_text_embeds(ctx, *_extractors(ctx)))


class ClipScoreSpec(Frozen):
    model: str = "openai/clip-vit-base-patch16"
    batch_size: int = Field(default=32, gt=0)


METRIC = register(SampleMetric(
    name=CLIP_SCORE, better="higher", aggregate="clamped-mean",
    reference_test="tests/metrics/test_clip_score.py::test_per_image_and_group_values_match_torchmetrics",
    jobs=jobs, score=score, settings=ClipScoreSpec, model_kind="clip", rank=10,
))
