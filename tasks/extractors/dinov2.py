"""DINOv2 CLS features for FD-DINOv2, preprocessed as dgm-eval (Stein et al., NeurIPS 2023) does.

dgm-eval's DINOv2Encoder.transform: torchvision Resize((224, 224), BICUBIC) on the PIL image (no crop,
the aspect ratio is not kept), ToTensor (/255), Normalize(ImageNet mean, std); its feature is the
hub model's forward output, the CLS token after the final layer norm, which is transformers'
Dinov2Model pooler_output. Before that, images go through the spec's reference preprocessing
(center crop, resize mode), the same for real and generated images, as for FID.
"""

from __future__ import annotations

import functools
import json
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

DGM_EVAL_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def dinov2_fingerprint(resolved: ResolvedModel, pre: Preprocess) -> str:
    """The feature table's name: model content, the spec's preprocessing, dgm-eval's transform, the layer."""
    described = {"extractor": "transformers-Dinov2Model", "model": resolved.fingerprint, "preprocess": pre.fingerprint(),
                 "transform": f"pil-bicubic-{DGM_EVAL_SIZE}x{DGM_EVAL_SIZE}-imagenet-normalize", "layer": "pooler_output",
                 "precision": "float32"}
    return "dinov2-" + key_of(described)[:24]


def load_dinov2(resolved: ResolvedModel, device: str = "cpu") -> Any:
    """Dinov2Model from the resolved folder, in eval mode on `device`."""
    from transformers import Dinov2Model

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    return Dinov2Model.from_pretrained(resolved.local_dir).eval().to(device)


@functools.cache
def cached_dinov2(resolved: ResolvedModel, device: str) -> Any:
    """DINOv2 loaded once per process, and only when some feature is actually missing."""
    return load_dinov2(resolved, device)


def uint8_to_dinov2_pixels(images: list[np.ndarray]) -> torch.Tensor:
    """uint8 HWC images -> [N, 3, 224, 224] float32, dgm-eval's transform."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    out = []
    for arr in images:
        resized = np.asarray(Image.fromarray(arr).resize((DGM_EVAL_SIZE, DGM_EVAL_SIZE), Image.BICUBIC), np.float32)
        out.append((torch.from_numpy(resized / 255.0).permute(2, 0, 1) - mean) / std)
    return torch.stack(out)


@torch.inference_mode()
def images_to_dinov2_features(model: Any, images: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
    """uint8 HWC images -> CLS features [N, hidden] float32."""
    device = next(model.parameters()).device
    out = [model(pixel_values=uint8_to_dinov2_pixels(images[s : s + batch_size]).to(device)).pooler_output.float().cpu().numpy()
           for s in range(0, len(images), batch_size)]
    return np.concatenate(out)


def dinov2_extractor(resolved: ResolvedModel, pre: Preprocess, device: str, sources: dict[str, str],
                     batch_size: int = 32) -> Extractor:
    """Images -> {"cls"}; the model loads only when a feature is missing."""
    dim = _hidden_size(resolved)

    def batch(pairs: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        return preprocessed_batch(pairs, pre, sources, {"cls": dim},
                                  lambda arrays: {"cls": images_to_dinov2_features(cached_dinov2(resolved, device), arrays, batch_size)})

    return Extractor("dinov2", dinov2_fingerprint(resolved, pre), "images", batch, batch_size)


def _hidden_size(resolved: ResolvedModel) -> int:
    return int(json.loads((Path(resolved.local_dir) / "config.json").read_text())["hidden_size"])


def spec_dinov2_extractor(ctx) -> Extractor:
    """The run's DINOv2 extractor (metrics.fd_dinov2)."""
    from tasks.extractors.inception import spec_preprocess
    from tasks.values.names import FD_DINOV2

    cfg = ctx.spec.metrics.fd_dinov2
    return dinov2_extractor(ctx.prepared.metric_models[FD_DINOV2], spec_preprocess(ctx.spec), ctx.device, sources_of(ctx), cfg.batch_size)


def dinov2_job(ctx) -> Job:
    """DINOv2 over the run's reference images and every generated image."""
    return set_job(ctx, spec_dinov2_extractor(ctx))
