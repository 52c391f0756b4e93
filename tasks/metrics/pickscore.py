"""PickScore (Kirstain et al., NeurIPS 2023): a CLIP-H fine-tuned on Pick-a-Pic human preferences.

As the PickScore repo scores: per image, logit_scale.exp() * cos(image embedding, prompt embedding)
with transformers' CLIPModel, the prompt tokenized with truncation to 77 tokens (EOS kept) and the
processor of the CLIP-H it was fine-tuned from (`metrics.pickscore.processor`). Aggregated and
compared like CLIP score, but as a plain mean (a negative mean is a real value here).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pydantic import Field

from tasks.extractors.clip import clip_extractors, cached_clip
from tasks.extractors.registry import Extractor, Job
from tasks.metrics.clip_score import image_text_embeds, image_text_jobs, normalize
from tasks.values.metric import SampleMetric, register
from tasks.models.resolve import ResolvedModel
from tasks.spec_metrics import Frozen
from tasks.values.names import PICKSCORE


def preference_scores(image_embeds: np.ndarray, text_embeds: np.ndarray, scale: float) -> np.ndarray:
    """Per pair scale * cos(image, text)."""
    return scale * np.sum(normalize(image_embeds) * normalize(text_embeds), axis=-1)


def logit_scale(resolved: ResolvedModel, device: str = "cpu") -> float:
    """exp(logit_scale) of a CLIP folder, read from its safetensors weights (no model load when scores are cached)."""
    from safetensors import safe_open

    folder = Path(resolved.local_dir)
    index = folder / "model.safetensors.index.json"
    name = json.loads(index.read_text())["weight_map"].get("logit_scale") if index.is_file() else "model.safetensors"
    if name and (folder / name).is_file():
        with safe_open(str(folder / name), framework="pt") as weights:
            if "logit_scale" in weights.keys():
                return float(weights.get_tensor("logit_scale").double().exp())
    return float(cached_clip(resolved, device).model.logit_scale.double().exp())  # .bin weights: load the model once


def _extractors(ctx) -> tuple[Extractor, Extractor]:
    models = ctx.prepared.metric_models
    return clip_extractors(models[PICKSCORE], ctx.device, ctx.spec.metrics.pickscore.batch_size, truncate="tokenizer",
                           processor=models.get(f"{PICKSCORE}.processor"))


def jobs(ctx) -> list[Job]:
    return image_text_jobs(ctx, *_extractors(ctx))


def score(ctx) -> np.ndarray:
    """Per item logit_scale.exp() * cos(its image, its prompt), from cached embeddings."""
    scale = logit_scale(ctx.prepared.metric_models[PICKSCORE], ctx.device)
    return preference_scores(*image_text_embeds(ctx, *_extractors(ctx)), scale)


class PickScoreSpec(Frozen):
    model: str = "yuvalkirstain/PickScore_v1"
    # The PickScore repo loads its processor from the CLIP-H it was fine-tuned from; null: the model's folder.
    processor: str | None = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
    batch_size: int = Field(default=32, gt=0)


METRIC = register(SampleMetric(
    name=PICKSCORE, better="higher", aggregate="mean",
    reference_test="tests/metrics/test_preference.py::test_pickscore_matches_the_pickscore_recipe",
    jobs=jobs, score=score, settings=PickScoreSpec, model_kind="clip", rank=80,
))
