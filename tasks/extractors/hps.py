"""HPS v2 image and text embeddings through open_clip, as the hpsv2 package computes them.

hpsv2.score: open_clip ViT-H-14 with the HPS v2 checkpoint's state_dict loaded over it, images through
open_clip's eval transform (resize the short side to 224 bicubic, center crop, OpenAI mean/std), the
prompt through open_clip's tokenizer (77 tokens, EOT kept when cut); the score is the cosine of the
two normalised embeddings. A folder with open_clip_config.json loads as open_clip's `local-dir:` (how
the tiny stand-in is saved); otherwise the architecture `arch` is built and the folder's .pt
checkpoint (HPS_v2_compressed.pt, as the release ships it, beside v2.1's) is loaded into it.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from artifacts.errors import BadInput
from artifacts.keys import key_of
from tasks.extractors.registry import Extractor
from tasks.models.resolve import ResolvedModel

CONFIG_FILE = "open_clip_config.json"
RELEASE_FILE = "HPS_v2_compressed.pt"  # the HPS v2 release's checkpoint ({"state_dict": ...})


@dataclass
class OpenClip:
    """An open_clip model with its eval transform and tokenizer."""

    model: Any
    transform: Any
    tokenizer: Any
    device: str


def hps_fingerprints(resolved: ResolvedModel, arch: str) -> tuple[str, str]:
    """Extractor fingerprints (image, text): model content, architecture, preprocessing and layer."""
    image = key_of({"extractor": "open_clip-image", "model": resolved.fingerprint, "arch": arch,
                    "transform": "open_clip-eval-transform", "layer": "encode_image-normalized"})
    text = key_of({"extractor": "open_clip-text", "model": resolved.fingerprint, "arch": arch,
                   "tokenizer": "open_clip-77", "layer": "encode_text-normalized"})
    return f"hps-image-{image[:24]}", f"hps-text-{text[:24]}"


def load_open_clip(resolved: ResolvedModel, arch: str = "ViT-H-14", device: str = "cpu") -> OpenClip:
    """The folder's open_clip model (its own config, or `arch` with the folder's .pt checkpoint), in eval mode."""
    import open_clip

    folder = Path(resolved.local_dir)
    if (folder / CONFIG_FILE).is_file():
        name = f"local-dir:{folder}"
        model, _, transform = open_clip.create_model_and_transforms(name, device=device)
        return OpenClip(model.eval(), transform, open_clip.get_tokenizer(name), device)
    model, _, transform = open_clip.create_model_and_transforms(arch, pretrained=None, device="cpu")
    state = torch.load(release_checkpoint(resolved), map_location="cpu", weights_only=True)
    model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    return OpenClip(model.eval().to(device), transform, open_clip.get_tokenizer(arch), device)


def release_checkpoint(resolved: ResolvedModel) -> Path:
    """The folder's .pt checkpoint: HPS_v2_compressed.pt where the folder also holds v2.1 (as xswu/HPSv2 does)."""
    folder = Path(resolved.local_dir)
    checkpoints = sorted(folder.glob("*.pt"))
    if (folder / RELEASE_FILE).is_file():
        return folder / RELEASE_FILE
    if len(checkpoints) != 1:
        found = ", ".join(p.name for p in checkpoints) or "none"
        raise BadInput(f"metrics.hpsv2.model {resolved.ref}: no {CONFIG_FILE}, and not one .pt checkpoint in {folder} "
                       f"(found: {found}); pass a folder holding {RELEASE_FILE} or a single checkpoint")
    return checkpoints[0]


@functools.cache
def cached_open_clip(resolved: ResolvedModel, arch: str, device: str) -> OpenClip:
    """Loaded once per process, and only when some feature is actually missing."""
    return load_open_clip(resolved, arch, device)


@torch.inference_mode()
def images_to_hps_embeds(clip: OpenClip, images: list[Image.Image], batch_size: int = 32) -> np.ndarray:
    """PIL images -> normalised image embeddings [N, D] float32."""
    out = []
    for s in range(0, len(images), batch_size):
        pixels = torch.stack([clip.transform(img) for img in images[s : s + batch_size]]).to(clip.device)
        out.append(torch.nn.functional.normalize(clip.model.encode_image(pixels), dim=-1).float().cpu().numpy())
    return np.concatenate(out)


@torch.inference_mode()
def texts_to_hps_embeds(clip: OpenClip, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Texts -> normalised text embeddings [N, D] float32."""
    out = []
    for s in range(0, len(texts), batch_size):
        tokens = clip.tokenizer(list(texts[s : s + batch_size])).to(clip.device)
        out.append(torch.nn.functional.normalize(clip.model.encode_text(tokens), dim=-1).float().cpu().numpy())
    return np.concatenate(out)


def hps_extractors(resolved: ResolvedModel, arch: str, device: str, batch_size: int = 32) -> tuple[Extractor, Extractor]:
    """The (image, text) extractors of one HPS v2 model; the model loads only when a feature is missing."""
    image_fp, text_fp = hps_fingerprints(resolved, arch)

    def images(batch: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        pil = [Image.open(io.BytesIO(data)).convert("RGB") for _, data in batch]
        return {"embed": images_to_hps_embeds(cached_open_clip(resolved, arch, device), pil, batch_size)}

    def texts(batch: list[str]) -> dict[str, np.ndarray]:
        return {"embed": texts_to_hps_embeds(cached_open_clip(resolved, arch, device), batch, batch_size)}

    return Extractor("hps-image", image_fp, "images", images, batch_size), Extractor("hps-text", text_fp, "texts", texts, batch_size)
