"""VQAScore's P("Yes") of an image-text-to-text model, as t2v_metrics computes it, cached per (image, prompt).

t2v_metrics (linzhiqiu/t2v_metrics, Qwen2VLModel.forward; PaliGemma alike): the question
'Does this figure show "{prompt}"? Please answer Yes or No.' in the model's chat template after the
image, `generate(max_new_tokens=1, do_sample=False, temperature=1.0, output_scores=True)`, and the
score is softmax(scores[0])[first token of "Yes"]: the probability of the answer's first token at
the first generated position (the generation config's logits processors, e.g. a repetition penalty,
included, as in `outputs.scores`). For Qwen2-VL-family processors the image is first resized as
qwen_vl_utils.fetch_image does (smart_resize to a multiple of patch * merge size, 4..16384 tokens)
and the processor is told not to resize again. Batches pad on the left, as generation needs.

The cache key of a pair is sha256(image sha256 + prompt), so the feature cache holds one score per
(image content, prompt, model fingerprint, templates, dtype).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from artifacts.keys import key_of, sha256_text
from artifacts.store import Store
from tasks.extractors.geneval import png_to_image
from tasks.extractors.registry import Extractor
from tasks.models.resolve import ResolvedModel

QWEN_MIN_PIXELS, QWEN_MAX_PIXELS = 4 * 28 * 28, 16384 * 28 * 28  # qwen_vl_utils' image limits


@dataclass
class Vlm:
    """A loaded image-text-to-text model with its processor."""

    model: Any
    processor: Any
    device: str


def vqa_fingerprint(resolved: ResolvedModel, question: str, answer: str, dtype: str) -> str:
    key = key_of({"extractor": "vqascore", "model": resolved.fingerprint, "question": question, "answer": answer,
                  "dtype": dtype, "position": "first-generated-token", "resize": "qwen_vl_utils-for-qwen2-vl"})
    return f"vqascore-{key[:24]}"


def pair_key(image_sha: str, prompt: str) -> str:
    """The cache key of one (image, prompt) pair."""
    return sha256_text(f"{image_sha}\n{prompt}")


@functools.cache
def cached_vlm(resolved: ResolvedModel, device: str, dtype: str) -> Vlm:
    """AutoModelForImageTextToText + AutoProcessor from the folder, loaded once per process."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    model = AutoModelForImageTextToText.from_pretrained(resolved.local_dir, dtype=getattr(torch, dtype)).eval().to(device)
    processor = AutoProcessor.from_pretrained(resolved.local_dir)
    processor.tokenizer.padding_side = "left"
    return Vlm(model, processor, device)


def qwen_smart_resize(height: int, width: int, factor: int, min_pixels: int = QWEN_MIN_PIXELS,
                      max_pixels: int = QWEN_MAX_PIXELS) -> tuple[int, int]:
    """qwen_vl_utils.smart_resize: both sides a multiple of `factor`, the area within [min_pixels, max_pixels]."""
    h_bar, w_bar = max(factor, round(height / factor) * factor), max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar, w_bar = math.floor(height / beta / factor) * factor, math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar, w_bar = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def _qwen_factor(processor) -> int | None:
    image_processor = getattr(processor, "image_processor", None)
    if type(image_processor).__name__.startswith("Qwen2VL"):
        return int(image_processor.patch_size * image_processor.merge_size)
    return None


def vlm_inputs(vlm: Vlm, images: list[Image.Image], questions: list[str]) -> dict:
    """Chat-templated questions after their images, as one left-padded batch of model inputs."""
    factor = _qwen_factor(vlm.processor)
    extra = {}
    if factor is not None:
        images = [img.resize(qwen_smart_resize(img.height, img.width, factor)[::-1], Image.BICUBIC) for img in images]
        extra = {"do_resize": False}
    texts = [vlm.processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}],
                                               tokenize=False, add_generation_prompt=True) for q in questions]
    return vlm.processor(text=texts, images=images, padding=True, return_tensors="pt", **extra)


def answer_token(vlm: Vlm, answer: str) -> int:
    """The first token of the answer, encoded without special tokens (t2v_metrics' answer_token_ids[0])."""
    return vlm.processor.tokenizer.encode(answer, add_special_tokens=False)[0]


@torch.inference_mode()
def pairs_to_yes_probability(vlm: Vlm, images: list[Image.Image], prompts: list[str], question: str, answer: str) -> np.ndarray:
    """P(first answer token) at the first generated position, per (image, prompt), float64 [N]."""
    inputs = vlm_inputs(vlm, images, [question.format(p) for p in prompts]).to(vlm.device)
    out = vlm.model.generate(**inputs, max_new_tokens=1, do_sample=False, temperature=1.0, output_scores=True,
                             return_dict_in_generate=True)
    probs = torch.softmax(out.scores[0].double(), dim=-1)
    return probs[:, answer_token(vlm, answer)].cpu().numpy()


def vqa_extractor(store: Store, resolved: ResolvedModel, device: str, question: str, answer: str, dtype: str,
                  batch_size: int = 8) -> Extractor:
    """The VQAScore extractor: reads (image, prompt) pairs given as JSON {path, sha, prompt}; loads the model only when needed."""
    def batch(payloads: list[str]) -> dict[str, np.ndarray]:
        pairs = [json.loads(p) for p in payloads]
        images = [png_to_image(store.read_bytes(p["path"], p["sha"])) for p in pairs]
        yes = pairs_to_yes_probability(cached_vlm(resolved, device, dtype), images, [p["prompt"] for p in pairs], question, answer)
        return {"p_yes": yes.reshape(-1, 1)}

    return Extractor("vqascore", vqa_fingerprint(resolved, question, answer, dtype), "texts", batch, batch_size)


def pair_payload(path: str, image_sha: str, prompt: str) -> str:
    """What the extractor reads for one pair (the image's store path and sha, the prompt)."""
    return json.dumps({"path": path, "sha": image_sha, "prompt": prompt}, sort_keys=True)
