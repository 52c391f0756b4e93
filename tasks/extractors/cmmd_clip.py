"""CLIP image embeddings for CMMD, computed as google-research cmmd computes them from image files.

Transform `io_util` (the default), as cmmd/io_util.py reads a file: the decoded RGB image is center-cropped
to a square of its shorter side (floor offsets) and resized to the processor's crop size (336 for
openai/clip-vit-large-patch14-336) with PIL's bicubic filter, which antialiases; then as
cmmd/embedding.py (the PyTorch port's ClipEmbeddingModel.embed): float [0, 1], torch's bicubic interpolate
to the crop size (the identity on a 336 x 336 image), the CLIPImageProcessor with only its normalisation
on, CLIPVisionModelWithProjection's image_embeds, L2-normalised. Transform `torch-bicubic`: embedding.py
alone on the whole image (aspect ratio squashed, no antialias), as diffeval did before; it has its own
fingerprint. Before either, images go through the spec's reference preprocessing (center crop, resize mode;
none in `diffeval sets` by default), the same for real and generated images.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

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


TRANSFORMS = {
    "io_util": "pil-rgb8-center-crop-square-floor-pil-bicubic-antialias-to-crop-size-float01-torch-bicubic-normalize",
    "torch-bicubic": "float01-torch-bicubic-to-crop-size-normalize",
}


def cmmd_fingerprint(resolved: ResolvedModel, pre: Preprocess, transform: str = "io_util") -> str:
    """The feature table's name: model content, the spec's preprocessing, cmmd's transform, the layer."""
    described = {"extractor": "transformers-CLIPVisionModelWithProjection", "model": resolved.fingerprint,
                 "preprocess": pre.fingerprint(), "transform": TRANSFORMS[transform],
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


def crop_square_and_resize(arr: np.ndarray, size: int) -> np.ndarray:
    """cmmd/io_util.py's _center_crop_and_resize: a square of the shorter side (floor offsets), PIL bicubic to size."""
    height, width = arr.shape[:2]
    side = min(width, height)
    top, left = (height - side) // 2, (width - side) // 2
    img = Image.fromarray(arr).crop((left, top, left + side, top + side))
    return np.asarray(img.resize((size, size), resample=Image.Resampling.BICUBIC))


def uint8_to_cmmd_pixels(clip: VisionClip, images: list[np.ndarray], transform: str = "io_util") -> torch.Tensor:
    """uint8 HWC images -> [N, 3, size, size] float32 as cmmd feeds CLIP (one resize per image: sizes may differ)."""
    out = []
    for arr in images:
        if transform == "io_util":
            arr = crop_square_and_resize(arr, clip.size)
        x = torch.from_numpy(arr.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        out.append(torch.nn.functional.interpolate(x, size=(clip.size, clip.size), mode="bicubic"))
    return (torch.cat(out) - clip.mean) / clip.std


@torch.inference_mode()
def images_to_cmmd_embeds(clip: VisionClip, images: list[np.ndarray], batch_size: int = 32,
                          transform: str = "io_util") -> np.ndarray:
    """uint8 HWC images -> L2-normalised image embeddings [N, D] float32."""
    device = next(clip.model.parameters()).device
    out = []
    for s in range(0, len(images), batch_size):
        pixels = uint8_to_cmmd_pixels(clip, images[s : s + batch_size], transform)
        embeds = clip.model(pixel_values=pixels.to(device)).image_embeds
        out.append((embeds / torch.linalg.norm(embeds, dim=-1, keepdim=True)).float().cpu().numpy())
    return np.concatenate(out)


def cmmd_extractor(resolved: ResolvedModel, pre: Preprocess, device: str, sources: dict[str, str],
                   batch_size: int = 32, transform: str = "io_util") -> Extractor:
    """Images -> {"embed"} (unit rows); the model loads only when a feature is missing."""
    dim = int(json.loads((Path(resolved.local_dir) / "config.json").read_text()).get("projection_dim", 512))

    def embed(arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        return {"embed": images_to_cmmd_embeds(cached_vision_clip(resolved, device), arrays, batch_size, transform)}

    def batch(pairs: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        return preprocessed_batch(pairs, pre, sources, {"embed": dim}, embed)

    return Extractor("cmmd-clip", cmmd_fingerprint(resolved, pre, transform), "images", batch, batch_size)


def spec_cmmd_extractor(ctx) -> Extractor:
    """The run's CMMD CLIP extractor (metrics.cmmd)."""
    from tasks.extractors.inception import spec_preprocess
    from tasks.values.names import CMMD

    settings = ctx.spec.metrics.cmmd
    return cmmd_extractor(ctx.prepared.metric_models[CMMD], spec_preprocess(ctx.spec), ctx.device, sources_of(ctx),
                          settings.batch_size, settings.transform)


def cmmd_job(ctx) -> Job:
    """The CMMD CLIP over the run's reference images and every generated image."""
    return set_job(ctx, spec_cmmd_extractor(ctx))
