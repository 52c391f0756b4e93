"""CLIP image embeddings for CMMD, computed as google-research cmmd/embedding.py does.

ClipEmbeddingModel.embed: images as float [0, 1] HWC, resized to the processor's crop size (336 for
openai/clip-vit-large-patch14-336) by torch's bicubic interpolate (no antialias, no clamp), then the
CLIPImageProcessor with only its normalisation on (do_resize, do_center_crop, do_rescale off), then
CLIPVisionModelWithProjection's image_embeds, L2-normalised. Before that, images go through the
spec's reference preprocessing (center crop, resize mode), the same for real and generated images.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artifacts.keys import key_of
from tasks.extractors.preprocess import Preprocess
from tasks.extractors.registry import Extractor, Job
from tasks.extractors.set_images import preprocessed_batch, set_job, sources_of
from tasks.models.resolve import ResolvedModel


@dataclass
class VisionClip:
    """CLIP's vision tower with its projection, and the processor's size and normalisation."""

    model: Any
    size: int
    mean: torch.Tensor
    std: torch.Tensor
    dim: int


def cmmd_fingerprint(resolved: ResolvedModel, pre: Preprocess) -> str:
    """The feature table's name: model content, the spec's preprocessing, cmmd's transform, the layer."""
    described = {"extractor": "transformers-CLIPVisionModelWithProjection", "model": resolved.fingerprint,
                 "preprocess": pre.fingerprint(), "transform": "float01-torch-bicubic-to-crop-size-normalize",
                 "layer": "image_embeds-l2-normalized", "precision": "float32"}
    return "cmmd-clip-" + key_of(described)[:24]


def load_vision_clip(resolved: ResolvedModel, device: str = "cpu") -> VisionClip:
    """The vision half of a CLIP folder (the text tower is never loaded) and its image processor's settings."""
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    model = CLIPVisionModelWithProjection.from_pretrained(resolved.local_dir).eval().to(device)
    processor = CLIPImageProcessor.from_pretrained(resolved.local_dir)
    mean = torch.tensor(processor.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std, dtype=torch.float32).view(1, 3, 1, 1)
    return VisionClip(model, int(processor.crop_size["height"]), mean, std, model.config.projection_dim)


@functools.cache
def cached_vision_clip(resolved: ResolvedModel, device: str) -> VisionClip:
    """Loaded once per process, and only when some feature is actually missing."""
    return load_vision_clip(resolved, device)


def uint8_to_cmmd_pixels(clip: VisionClip, images: list[np.ndarray]) -> torch.Tensor:
    """uint8 HWC images -> [N, 3, size, size] float32 as cmmd feeds CLIP (one resize per image: sizes may differ)."""
    out = []
    for arr in images:
        x = torch.from_numpy(arr.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        out.append(torch.nn.functional.interpolate(x, size=(clip.size, clip.size), mode="bicubic"))
    return (torch.cat(out) - clip.mean) / clip.std


@torch.inference_mode()
def images_to_cmmd_embeds(clip: VisionClip, images: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
    """uint8 HWC images -> L2-normalised image embeddings [N, D] float32."""
    device = next(clip.model.parameters()).device
    out = []
    for s in range(0, len(images), batch_size):
        embeds = clip.model(pixel_values=uint8_to_cmmd_pixels(clip, images[s : s + batch_size]).to(device)).image_embeds
        out.append((embeds / torch.linalg.norm(embeds, dim=-1, keepdim=True)).float().cpu().numpy())
    return np.concatenate(out)


def cmmd_extractor(resolved: ResolvedModel, pre: Preprocess, device: str, sources: dict[str, str],
                   batch_size: int = 32) -> Extractor:
    """Images -> {"embed"} (unit rows); the model loads only when a feature is missing."""
    dim = int(json.loads((Path(resolved.local_dir) / "config.json").read_text()).get("projection_dim", 512))

    def batch(pairs: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        return preprocessed_batch(pairs, pre, sources, {"embed": dim},
                                  lambda arrays: {"embed": images_to_cmmd_embeds(cached_vision_clip(resolved, device), arrays, batch_size)})

    return Extractor("cmmd-clip", cmmd_fingerprint(resolved, pre), "images", batch, batch_size)


def spec_cmmd_extractor(ctx) -> Extractor:
    """The run's CMMD CLIP extractor (metrics.cmmd)."""
    from tasks.extractors.inception import spec_preprocess
    from tasks.values.names import CMMD

    return cmmd_extractor(ctx.prepared.metric_models[CMMD], spec_preprocess(ctx.spec), ctx.device, sources_of(ctx),
                          ctx.spec.metrics.cmmd.batch_size)


def cmmd_job(ctx) -> Job:
    """The CMMD CLIP over the run's reference images and every generated image."""
    return set_job(ctx, spec_cmmd_extractor(ctx))
