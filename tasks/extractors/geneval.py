"""GenEval's detections per image: Mask2Former instances (through transformers) and the CLIP colour of each.

What upstream's evaluate_images.py computes before its rules, cached per image content:
- mmdet's Mask2Former instance post-processing (MaskFormerFusionHead.instance_postprocess, transcribed):
  softmax over classes without the no-object column, the top `max_per_image` (query, class) pairs,
  mask logits upsampled bilinearly to the padded input, cropped to the resized image, upsampled to
  the original size; mask = logit > 0; score = class prob * mean sigmoid inside the mask; box = the
  mask's extent (mmdet mask2bbox: x2, y2 one past the last pixel).
- the colour of each instance scoring above `color_min_score`: CLIP zero-shot over GenEval's ten
  colours with its three templates (clip_benchmark's zero_shot_classifier: per colour the mean of the
  normalised template embeddings, normalised), on the image composited over #999 grey outside the
  mask and cropped to the box.
The image goes through the detector folder's own image processor (the hub checkpoint's resize), not
mmdet's 1333x800 test pipeline: that is the one stated difference from upstream.
Rows of the cached `det` vector: (label, score, x1, y1, x2, y2, colour index or -1), padded with label -1.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from artifacts.keys import key_of
from tasks.extractors.clip import cached_clip, images_to_clip_embeds, texts_to_clip_embeds
from tasks.extractors.registry import Extractor
from tasks.inputs.geneval_prompts import COLORS
from tasks.models.resolve import ResolvedModel


FIELDS = 7  # label, score, x1, y1, x2, y2, colour
COLOR_TEMPLATES = ("a photo of a {c} {classname}", "a photo of a {c}-colored {classname}", "a photo of a {c} object")
BACKGROUND = "#999"


@dataclass
class Detector:
    """A loaded Mask2Former with its image processor and label names."""

    model: Any
    processor: Any
    names: tuple[str, ...]
    device: str


def geneval_fingerprint(detector: ResolvedModel, clip: ResolvedModel, max_per_image: int, color_min_score: float) -> str:
    """The extractor's name: both models' content and every setting that changes the cached rows."""
    key = key_of({"extractor": "geneval-detections", "detector": detector.fingerprint, "clip": clip.fingerprint,
                  "postprocess": "mmdet-mask2former-instance", "max_per_image": max_per_image,
                  "color_min_score": color_min_score, "colors": list(COLORS), "templates": list(COLOR_TEMPLATES),
                  "background": BACKGROUND, "crop": True})
    return f"geneval-{key[:24]}"


@functools.cache
def cached_detector(resolved: ResolvedModel, device: str) -> Detector:
    """The Mask2Former folder's model and image processor, loaded once per process (only when a feature is missing)."""
    from transformers import AutoImageProcessor, Mask2FormerForUniversalSegmentation

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    model = Mask2FormerForUniversalSegmentation.from_pretrained(resolved.local_dir).eval().to(device)
    names = tuple(model.config.id2label[i] for i in range(len(model.config.id2label)))
    return Detector(model, AutoImageProcessor.from_pretrained(resolved.local_dir), names, device)


def mask_to_box(masks: torch.Tensor) -> torch.Tensor:
    """mmdet's mask2bbox: [N, H, W] bool -> [N, 4] (x1, y1, x2 + 1, y2 + 1); an empty mask gives zeros."""
    boxes = torch.zeros(masks.shape[0], 4)
    x_any, y_any = masks.any(dim=1), masks.any(dim=2)
    for i in range(masks.shape[0]):
        xs, ys = torch.where(x_any[i])[0], torch.where(y_any[i])[0]
        if len(xs) and len(ys):
            boxes[i] = torch.tensor([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], dtype=torch.float32)
    return boxes


def outputs_to_instances(class_logits: torch.Tensor, mask_logits: torch.Tensor, padded: tuple[int, int],
                         resized: tuple[int, int], original: tuple[int, int], max_per_image: int = 100):
    """One image's raw outputs ([Q, C+1], [Q, h, w]) -> labels [K], scores [K], boxes [K, 4], masks [K, H, W] bool."""
    num_queries, num_classes = class_logits.shape[0], class_logits.shape[1] - 1
    scores = torch.softmax(class_logits.float(), dim=-1)[:, :-1]
    top_scores, top = scores.flatten().topk(min(max_per_image, scores.numel()), sorted=False)
    labels, queries = top % num_classes, torch.div(top, num_classes, rounding_mode="floor")
    masks = torch.nn.functional.interpolate(mask_logits[None].float(), size=padded, mode="bilinear", align_corners=False)
    masks = masks[..., : resized[0], : resized[1]]
    masks = torch.nn.functional.interpolate(masks, size=original, mode="bilinear", align_corners=False)[0][queries]
    binary = masks > 0
    mask_scores = (masks.sigmoid() * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    return labels, top_scores * mask_scores, mask_to_box(binary), binary


def masked_crop(image: Image.Image, mask: np.ndarray, box: np.ndarray) -> Image.Image:
    """Upstream's ImageCrops item: the object over #999 grey, cropped to its box."""
    blank = Image.new("RGB", image.size, color=BACKGROUND)
    return Image.composite(image, blank, Image.fromarray(mask)).crop(tuple(float(v) for v in box[:4]))


@functools.lru_cache(maxsize=256)
def _color_classifier(clip_ref: ResolvedModel, device: str, classname: str) -> np.ndarray:
    clip = cached_clip(clip_ref, device)
    texts = [t.format(c=c, classname=classname) for c in COLORS for t in COLOR_TEMPLATES]
    emb = texts_to_clip_embeds(clip, texts).astype(np.float64).reshape(len(COLORS), len(COLOR_TEMPLATES), -1)
    emb = (emb / np.linalg.norm(emb, axis=-1, keepdims=True)).mean(axis=1)
    return (emb / np.linalg.norm(emb, axis=-1, keepdims=True)).T  # [d, colours]


def crops_to_colors(clip_ref: ResolvedModel, device: str, crops: list[Image.Image], classname: str) -> np.ndarray:
    """Index into COLORS of each crop: argmax of 100 * cos(crop, colour prompt) (the scale does not move it)."""
    if not crops:
        return np.zeros(0, dtype=np.int64)
    tensors = [torch.from_numpy(np.asarray(c.convert("RGB")).copy()).permute(2, 0, 1) for c in crops]
    emb = images_to_clip_embeds(cached_clip(clip_ref, device), tensors).astype(np.float64)
    emb /= np.linalg.norm(emb, axis=-1, keepdims=True)
    return np.argmax(100.0 * emb @ _color_classifier(clip_ref, device, classname), axis=1)


def image_to_rows(detector: Detector, clip_ref: ResolvedModel, image: Image.Image, class_logits, mask_logits,
                  sizes: tuple, max_per_image: int, color_min_score: float) -> np.ndarray:
    """One image's cached rows [K, FIELDS]: instances, and the colour of those above color_min_score."""
    labels, scores, boxes, masks = outputs_to_instances(class_logits, mask_logits, *sizes, max_per_image)
    rows = np.full((max_per_image, FIELDS), -1.0, dtype=np.float32)
    n = len(labels)
    rows[:n, 0], rows[:n, 1], rows[:n, 2:6] = labels.numpy(), scores.numpy(), boxes.numpy()
    for label in sorted({int(v) for v in labels[scores > color_min_score]}):
        chosen = [i for i in range(n) if int(labels[i]) == label and float(scores[i]) > color_min_score]
        crops = [masked_crop(image, masks[i].numpy(), rows[i, 2:6]) for i in chosen]
        rows[chosen, 6] = crops_to_colors(clip_ref, detector.device, crops, detector.names[label])
    return rows


@torch.inference_mode()
def images_to_detections(detector: Detector, clip_ref: ResolvedModel, images: list[Image.Image], max_per_image: int = 100,
                         color_min_score: float = 0.3) -> np.ndarray:
    """PIL images -> [N, max_per_image * FIELDS] float32: one batched detector call, then per-image post-processing."""
    inputs = detector.processor(images=images, return_tensors="pt")
    pixel_mask = inputs.get("pixel_mask")
    out = detector.model(pixel_values=inputs["pixel_values"].to(detector.device),
                         pixel_mask=None if pixel_mask is None else pixel_mask.to(detector.device))
    padded = tuple(inputs["pixel_values"].shape[-2:])
    rows = []
    for i, image in enumerate(images):
        valid = pixel_mask[i] if pixel_mask is not None else torch.ones(padded)
        resized = (int(valid.any(dim=1).sum()), int(valid.any(dim=0).sum()))
        sizes = (padded, resized, (image.height, image.width))
        rows.append(image_to_rows(detector, clip_ref, image, out.class_queries_logits[i].cpu(), out.masks_queries_logits[i].cpu(),
                                  sizes, max_per_image, color_min_score).reshape(-1))
    return np.stack(rows)


def png_to_image(data: bytes) -> Image.Image:
    """How evaluate_image opens a file: EXIF orientation applied, RGB."""
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


def geneval_extractor(detector: ResolvedModel, clip: ResolvedModel, device: str, batch_size: int = 8,
                      max_per_image: int = 100, color_min_score: float = 0.3) -> Extractor:
    """The detections extractor of one detector + CLIP pair; the models load only when a feature is missing."""
    def batch(items: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        images = [png_to_image(data) for _, data in items]
        return {"det": images_to_detections(cached_detector(detector, device), clip, images, max_per_image, color_min_score)}

    return Extractor("geneval", geneval_fingerprint(detector, clip, max_per_image, color_min_score), "images", batch, batch_size)


def detections_of(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
    """A cached `det` vector -> labels, scores, boxes and colour names of its instances (padding dropped)."""
    rows = vector.reshape(-1, FIELDS)
    rows = rows[rows[:, 0] >= 0]
    colors = [COLORS[int(c)] if c >= 0 else None for c in rows[:, 6]]
    return rows[:, 0].astype(np.int64), rows[:, 1].astype(np.float64), rows[:, 2:6].astype(np.float64), colors
