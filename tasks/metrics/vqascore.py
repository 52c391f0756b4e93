"""VQAScore (Lin et al., ECCV 2024): the probability that an image-text-to-text model answers "Yes" when asked
whether the image shows the prompt, as t2v_metrics computes it (tasks/extractors/vqa.py).

Per image one probability in (0, 1); aggregated as a plain mean over prompts with bootstrap CIs, per
group (a prompt set's skills, categories, challenges or GenEval tasks) and compared in pairs.
"""

from __future__ import annotations

import numpy as np

from artifacts.store import image_rel
from tasks.extractors.registry import Extractor, Job
from tasks.extractors.vqa import pair_key, pair_payload, vqa_extractor
from typing import Literal

from pydantic import Field

from tasks.plan.metric_inputs import check_vlm
from tasks.spec_metrics import Frozen
from tasks.values.metric import SampleMetric, register
from tasks.values.names import VQASCORE


def _extractor(ctx) -> Extractor:
    cfg = ctx.spec.metrics.vqascore
    return vqa_extractor(ctx.store, ctx.prepared.metric_models[VQASCORE], ctx.device, cfg.question, cfg.answer, cfg.dtype,
                         cfg.batch_size)


def jobs(ctx) -> list[Job]:
    """Every (generated image, its prompt) pair, keyed by image content and prompt."""
    inputs = {}
    for item in ctx.items:
        sha, text = ctx.image_sha[item.key], ctx.condition(item).text
        inputs[pair_key(sha, text)] = pair_payload(image_rel(item.key), sha, text)
    return [Job(_extractor(ctx), inputs)]


def score(ctx) -> np.ndarray:
    """Per item P("Yes"), from the cache."""
    keys = [pair_key(ctx.image_sha[i.key], ctx.condition(i).text) for i in ctx.items]
    return ctx.gather(_extractor(ctx), keys)["p_yes"][:, 0].astype(np.float64)


class VqaScoreSpec(Frozen):
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"  # t2v_metrics' qwen2.5-vl-7b, loaded natively by transformers
    # t2v_metrics' Qwen2-VL templates; the answer's first token is the one whose probability is the score.
    question: str = 'Does this figure show "{}"? Please answer Yes or No.'
    answer: str = "Yes"
    dtype: Literal["float32", "float16", "bfloat16"] = "bfloat16"  # t2v_metrics loads Qwen2.5-VL in bfloat16
    batch_size: int = Field(default=8, gt=0)


METRIC = register(SampleMetric(
    name=VQASCORE, better="higher", aggregate="mean",
    reference_test="tests/metrics/test_vqascore.py::test_yes_probability_matches_a_hand_computation",
    jobs=jobs, score=score, settings=VqaScoreSpec, model_kind="transformers", check=check_vlm, rank=110,
))
