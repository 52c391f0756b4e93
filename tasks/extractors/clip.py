"""CLIP image and text embeddings, computed exactly as torchmetrics' clip_score feeds the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from artifacts.keys import key_of
from tasks.models.resolve import ResolvedModel


@dataclass
class Clip:
    """A loaded CLIP model with its processor and the fingerprints of its two extractors."""

    model: Any
    processor: Any
    device: str
    image_fingerprint: str
    text_fingerprint: str


# How texts longer than CLIP's context are cut (`truncate=`): "torchmetrics" slices the token ids
# after tokenizing (as clip_score does; the EOS token is lost), "tokenizer" lets the tokenizer
# truncate (EOS kept, as the diffusers guide's DirectionalSimilarity does). Identical for texts that fit.


def clip_fingerprints(resolved: ResolvedModel, truncate: str = "torchmetrics") -> tuple[str, str]:
    """Extractor fingerprints (image, text): model content + the preprocessing and layer used."""
    image = key_of({"extractor": "clip-image", "model": resolved.fingerprint, "input": "uint8-chw", "layer": "image_embeds"})
    text = key_of({"extractor": "clip-text", "model": resolved.fingerprint, "truncate": truncate, "layer": "text_embeds"})
    return f"clip-image-{image[:24]}", f"clip-text-{text[:24]}"


def load_clip(resolved: ResolvedModel, device: str = "cpu") -> Clip:
    """CLIPModel and CLIPProcessor from the resolved folder, in eval mode on `device`."""
    from transformers import CLIPModel, CLIPProcessor

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    model = CLIPModel.from_pretrained(resolved.local_dir).eval().to(device)
    processor = CLIPProcessor.from_pretrained(resolved.local_dir)
    image_fp, text_fp = clip_fingerprints(resolved)
    return Clip(model, processor, device, image_fp, text_fp)


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


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float64 for the cosine arithmetic that follows)."""
    v = vectors.astype(np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def clip_scores(image_embeds: np.ndarray, text_embeds: np.ndarray) -> np.ndarray:
    """Per pair 100 * cos(image, text), torchmetrics' per-sample CLIP score."""
    return 100.0 * np.sum(normalize(image_embeds) * normalize(text_embeds), axis=-1)
