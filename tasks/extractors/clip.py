"""CLIP image and text embeddings, computed exactly as torchmetrics' clip_score feeds the model."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from artifacts.keys import key_of
from tasks.extractors.registry import Extractor
from tasks.models.resolve import ResolvedModel


@dataclass
class Clip:
    """A loaded CLIP model with its processor."""

    model: Any
    processor: Any
    device: str


# How texts longer than CLIP's context are cut (`truncate=`): "torchmetrics" slices the token ids
# after tokenizing (as clip_score does; the EOS token is lost), "tokenizer" lets the tokenizer
# truncate (EOS kept, as the diffusers guide's DirectionalSimilarity does). Identical for texts that fit.


def clip_fingerprints(resolved: ResolvedModel, truncate: str = "torchmetrics",
                      processor: ResolvedModel | None = None) -> tuple[str, str]:
    """Extractor fingerprints (image, text): model content + the preprocessing and layer used.

    The only place they are computed: the feature tables of every store are named by them.
    processor: a folder the processor comes from instead of the model's (PickScore's); None keeps the
    fingerprints every existing store already has.
    """
    other = {} if processor is None else {"processor": processor.fingerprint}
    image = key_of({"extractor": "clip-image", "model": resolved.fingerprint, "input": "uint8-chw", "layer": "image_embeds", **other})
    text = key_of({"extractor": "clip-text", "model": resolved.fingerprint, "truncate": truncate, "layer": "text_embeds", **other})
    return f"clip-image-{image[:24]}", f"clip-text-{text[:24]}"


def clip_extractors(resolved: ResolvedModel, device: str, batch_size: int = 32, truncate: str = "torchmetrics",
                    processor: ResolvedModel | None = None) -> tuple[Extractor, Extractor]:
    """The (image, text) extractors of one CLIP model; the model loads only when a feature is missing."""
    image_fp, text_fp = clip_fingerprints(resolved, truncate, processor)

    def images(batch: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        tensors = [png_to_uint8_chw(data) for _, data in batch]
        return {"embed": images_to_clip_embeds(_clip(resolved, device, processor), tensors, batch_size)}

    def texts(batch: list[str]) -> dict[str, np.ndarray]:
        return {"embed": texts_to_clip_embeds(_clip(resolved, device, processor), batch, batch_size, truncate)}

    return Extractor("clip-image", image_fp, "images", images, batch_size), Extractor("clip-text", text_fp, "texts", texts, batch_size)


def png_to_uint8_chw(data: bytes) -> torch.Tensor:
    """PNG bytes → uint8 CHW tensor, the form torchmetrics' clip_score takes."""
    array = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


@functools.cache
def cached_clip(resolved: ResolvedModel, device: str, processor: ResolvedModel | None = None) -> Clip:
    """A CLIP model loaded once per process, and only when some feature is actually missing."""
    return load_clip(resolved, device, processor)


def _clip(resolved: ResolvedModel, device: str, processor: ResolvedModel | None) -> Clip:
    # Called as cached_clip(resolved, device) when there is no separate processor: the same cache
    # entry callers that pass two arguments (bench/) get.
    return cached_clip(resolved, device) if processor is None else cached_clip(resolved, device, processor)


def load_clip(resolved: ResolvedModel, device: str = "cpu", processor: ResolvedModel | None = None) -> Clip:
    """CLIPModel and CLIPProcessor from the resolved folder (the processor from `processor`'s, if given), in eval mode."""
    from transformers import CLIPModel, CLIPProcessor

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    model = CLIPModel.from_pretrained(resolved.local_dir).eval().to(device)
    loaded = CLIPProcessor.from_pretrained((processor or resolved).local_dir)
    return Clip(model, loaded, device)


def _embeds(output: Any) -> torch.Tensor:
    # transformers 5 returns an output object whose pooler_output holds the projected embedding.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


@torch.inference_mode()
def images_to_clip_embeds(clip: Clip, images: list[torch.Tensor], batch_size: int = 32) -> np.ndarray:
    """uint8 CHW tensors → projected image embeddings [N, D] float32 (not normalized)."""
    out = []
    for start in range(0, len(images), batch_size):
        batch = [img.cpu() for img in images[start : start + batch_size]]
        pixels = clip.processor(images=batch, return_tensors="pt", padding=True)["pixel_values"]
        out.append(_embeds(clip.model.get_image_features(pixels.to(clip.device))).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


@torch.inference_mode()
def texts_to_clip_embeds(clip: Clip, texts: list[str], batch_size: int = 64, truncate: str = "torchmetrics") -> np.ndarray:
    """Texts → projected text embeddings [N, D] float32, long texts cut as `truncate` says."""
    limit = clip.model.config.text_config.max_position_embeddings
    cut = {"truncation": True, "max_length": limit} if truncate == "tokenizer" else {}
    out = []
    for start in range(0, len(texts), batch_size):
        tokens = clip.processor(text=list(texts[start : start + batch_size]), return_tensors="pt", padding=True, **cut)
        ids, mask = tokens["input_ids"][..., :limit], tokens["attention_mask"][..., :limit]
        out.append(_embeds(clip.model.get_text_features(ids.to(clip.device), mask.to(clip.device))).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
