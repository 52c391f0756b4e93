"""CLIP image embeddings as LAION's improved aesthetic predictor feeds its head (simple_inference.py).

simple_inference: `clip.load("ViT-L/14")` and its preprocess, OpenAI clip's _transform(n_px):
Resize(n_px, bicubic) on the short side of the PIL image, CenterCrop(n_px), RGB, ToTensor (/255),
Normalize(OpenAI CLIP mean, std); then `encode_image`, which is transformers' image_embeds (the
visual projection of the pooled output). The raw embedding is cached; the metric L2-normalises it
and runs the head (tasks/metrics/aesthetic.py), so another head never re-extracts. Run in float32
(clip.load gives float16 weights on CUDA: the reference's GPU numbers differ by float16 rounding).
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from artifacts.keys import key_of
from tasks.extractors.registry import Extractor
from tasks.models.resolve import ResolvedModel

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def image_size(resolved: ResolvedModel) -> int:
    """The CLIP vision tower's input size (224 for ViT-L/14)."""
    config = json.loads((Path(resolved.local_dir) / "config.json").read_text())
    return int(config.get("vision_config", config).get("image_size", 224))


def aesthetic_clip_fingerprint(resolved: ResolvedModel) -> str:
    """The feature table's name: model content, OpenAI clip's transform at the model's size, the layer."""
    described = {"extractor": "clip-image-openai-transform", "model": resolved.fingerprint,
                 "transform": f"torchvision-resize-bicubic-{image_size(resolved)}-centercrop-openai-normalize",
                 "layer": "image_embeds", "precision": "float32"}
    return "aesthetic-clip-" + key_of(described)[:24]


def openai_clip_transform(size: int):
    """OpenAI clip's _transform(n_px), rebuilt from torchvision (the clip package is not a dependency)."""
    from torchvision import transforms as T

    return T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(size),
                      lambda image: image.convert("RGB"), T.ToTensor(), T.Normalize(OPENAI_MEAN, OPENAI_STD)])


def load_clip_vision(resolved: ResolvedModel, device: str = "cpu") -> Any:
    """The CLIP vision tower with its projection, from a full CLIP folder (or a vision-only one)."""
    from transformers import CLIPVisionModelWithProjection

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    return CLIPVisionModelWithProjection.from_pretrained(resolved.local_dir).eval().to(device)


@functools.cache
def cached_clip_vision(resolved: ResolvedModel, device: str) -> Any:
    """Loaded once per process, and only when some feature is actually missing."""
    return load_clip_vision(resolved, device)


@torch.inference_mode()
def images_to_aesthetic_embeds(model: Any, images: list[Image.Image], size: int, batch_size: int = 32) -> np.ndarray:
    """PIL images -> raw CLIP image embeddings [N, D] float32 (encode_image, not yet normalised)."""
    transform, device = openai_clip_transform(size), next(model.parameters()).device
    out = []
    for s in range(0, len(images), batch_size):
        pixels = torch.stack([transform(image) for image in images[s : s + batch_size]]).to(device)
        out.append(model(pixel_values=pixels).image_embeds.float().cpu().numpy())
    return np.concatenate(out)


def aesthetic_clip_extractor(resolved: ResolvedModel, device: str, batch_size: int = 32) -> Extractor:
    """Images -> {"embed"}; the model loads only when a feature is missing."""
    size = image_size(resolved)

    def batch(pairs: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        images = [Image.open(io.BytesIO(data)) for _, data in pairs]
        return {"embed": images_to_aesthetic_embeds(cached_clip_vision(resolved, device), images, size, batch_size)}

    return Extractor("aesthetic-clip", aesthetic_clip_fingerprint(resolved), "images", batch, batch_size)
