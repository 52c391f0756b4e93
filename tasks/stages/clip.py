"""CLIP feature extraction through the cache, and the CLIP-based per-image scores."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from artifacts.keys import sha256_text
from artifacts.store import Store
from tasks.extractors import cache as features
from tasks.extractors.clip import Clip, clip_fingerprints, clip_scores, images_to_clip_embeds, load_clip, texts_to_clip_embeds
from tasks.models.resolve import ResolvedModel
from tasks.names import CLIP_SCORE

_CLIPS: dict[tuple, Clip] = {}


def cached_clip(resolved: ResolvedModel, device: str) -> Clip:
    """Load a CLIP model once per process, and only when some feature is actually missing."""
    memo = (resolved.fingerprint, device)
    if memo not in _CLIPS:
        _CLIPS[memo] = load_clip(resolved, device)
    return _CLIPS[memo]


def png_to_uint8_chw(data: bytes) -> torch.Tensor:
    """PNG bytes → uint8 CHW tensor, the form torchmetrics' clip_score takes."""
    array = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def extract_clip_features(store: Store, resolved: ResolvedModel, images: dict[str, str], texts: list[str],
                          device: str, batch_size: int, progress=None, truncate: str = "torchmetrics") -> tuple[int, int]:
    """Cache CLIP embeddings of `images` ({content sha: store path}) and `texts`; return (extracted, reused)."""
    image_fp, text_fp = clip_fingerprints(resolved, truncate)
    load_images = lambda shas: [png_to_uint8_chw(store.read_bytes(images[s], s)) for s in shas]  # noqa: E731
    by_sha = {sha256_text(t): t for t in texts}
    got = features.extract_missing(store, image_fp, list(images), load_images,
                                   lambda batch: {"embed": images_to_clip_embeds(cached_clip(resolved, device), batch, batch_size)},
                                   batch_size, progress)
    got_text = features.extract_missing(store, text_fp, list(by_sha), lambda shas: [by_sha[s] for s in shas],
                                        lambda batch: {"embed": texts_to_clip_embeds(cached_clip(resolved, device), batch, batch_size, truncate)},
                                        batch_size, progress)
    return got[0] + got_text[0], got[1] + got_text[1]


def clip_score_samples(store: Store, resolved: ResolvedModel, items: list[dict], image_sha: dict[str, str], text_of: dict[str, str]) -> list[dict]:
    """Per image 100 * cos(image, its text) from cached embeddings: one score row per item."""
    image_fp, text_fp = clip_fingerprints(resolved)
    image_embeds = features.gather(store, image_fp, [image_sha[i["key"]] for i in items])["embed"]
    text_embeds = features.gather(store, text_fp, [sha256_text(text_of[i["condition_id"]]) for i in items])["embed"]
    values = clip_scores(image_embeds, text_embeds)
    return [{**_sample(item), "metric": CLIP_SCORE, "value": float(v)} for item, v in zip(items, values)]


def _sample(item: dict) -> dict:
    return {k: item[k] for k in ("key", "variant", "condition_id", "seed", "sample_index")}
