"""Image bytes to the uint8 RGB arrays the FID Inception sees: decode, center crop, optional resize."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from artifacts.errors import BadInput

log = logging.getLogger(__name__)

# Bump when decode/crop/resize code changes values: it is part of every feature key.
PREPROCESS_VERSION = 1
RESIZE_MODES = ("none", "clean", "legacy")
SMALL_RULES = ("error", "upscale", "skip")
# clean-fid and the Inception network both work at 299; the default target of a resize mode.
DEFAULT_RESIZE_TO = 299

_warned_modes: set[str] = set()


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes the uint8 array fed to Inception; every field changes feature values."""

    center_crop: int | None = 256
    resize: str = "none"
    resize_to: int | None = None
    small: str = "upscale"

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_MODES:
            raise BadInput(f"reference.resize: unknown mode {self.resize!r}; use one of {', '.join(RESIZE_MODES)}")
        if self.small not in SMALL_RULES:
            raise BadInput(f"reference.small: unknown rule {self.small!r}; use one of {', '.join(SMALL_RULES)}")
        if self.center_crop is not None and self.center_crop <= 0:
            raise BadInput(f"reference.center_crop: {self.center_crop} must be positive; or null for no crop")
        if self.resize == "none" and self.resize_to is not None:
            raise BadInput("reference.resize_to: set without a resize mode; add resize: clean or resize: legacy")
        if self.resize != "none" and self.resize_to is None:
            object.__setattr__(self, "resize_to", DEFAULT_RESIZE_TO)
        if self.resize_to is not None and self.resize_to <= 0:
            raise BadInput(f"reference.resize_to: {self.resize_to} must be positive")

    @classmethod
    def from_spec(cls, spec: Any) -> "Preprocess":
        """The preprocessing named by a `ReferenceSpec` (or anything with the same four fields)."""
        return cls(center_crop=spec.center_crop, resize=spec.resize, resize_to=spec.resize_to, small=spec.small)

    def fingerprint(self) -> dict[str, Any]:
        """Everything that changes the pixels, for the feature key."""
        return {
            "version": PREPROCESS_VERSION,
            "decode": "pil-rgb8",
            "center_crop": self.center_crop,
            "crop_offset": "floor",
            "small": self.small,
            "upscale_filter": "pil-bicubic",
            "resize": self.resize,
            "resize_to": self.resize_to,
            "quantize": "uint8-round-half-even",
        }


def decode_image(data: bytes, source: str) -> Image.Image:
    """Decode any PIL-readable image to RGB; other modes convert with a warning."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, ValueError, DecompressionBomb...)
        # PIL's own text names the in-memory buffer (<_io.BytesIO object at 0x...>), not the file: leave it out.
        reason = "not an image format PIL can read" if isinstance(exc, UnidentifiedImageError) else f"{type(exc).__name__}: {exc}"
        raise BadInput(f"{source}: cannot read image ({reason}); replace or remove the file") from None
    if img.mode == "RGB":
        return img
    _warn_mode(img.mode, source)
    return _to_rgb(img)


def _warn_mode(mode: str, source: str) -> None:
    # Once per mode at warning level: a grayscale dataset would otherwise print one line per image.
    level = logging.DEBUG if mode in _warned_modes else logging.WARNING
    _warned_modes.add(mode)
    log.log(level, "%s: image mode %s converted to RGB", source, mode)


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB from any PIL mode; high bit depths are scaled (not clipped) to 8 bits."""
    if img.mode.startswith("I;16") or img.mode == "I":
        # 16-bit PNG/TIFF data (PIL opens it as I;16 or I): 65535 / 257 = 255 exactly.
        arr = np.asarray(img).astype(np.float64)
        return _gray_to_rgb(np.clip(np.rint(arr / 257.0), 0, 255))
    if img.mode == "F":
        # Float images follow PIL's own convention (0..255), clipped rather than wrapped.
        return _gray_to_rgb(np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255))
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    # RGBA/LA/PA drop alpha as torchvision and clean-fid do (`.convert("RGB")`), no compositing.
    return img.convert("RGB")


def _gray_to_rgb(gray: np.ndarray) -> Image.Image:
    g = gray.astype(np.uint8)
    return Image.fromarray(np.stack([g, g, g], axis=-1))


def image_to_uint8(img: Image.Image, pre: Preprocess, source: str) -> np.ndarray | None:
    """Center crop, then resize, to an HWC uint8 array; None when the small-image rule skips it."""
    if img.mode != "RGB":
        img = _to_rgb(img)
    if pre.center_crop is not None:
        img = _fit_for_crop(img, pre.center_crop, pre.small, source)
        if img is None:
            return None
        img = _center_crop(img, pre.center_crop)
    arr = np.array(img, dtype=np.uint8)  # a writable copy: callers hand it to torch.from_numpy
    if pre.resize == "clean":
        arr = _resize_clean(arr, pre.resize_to)
    elif pre.resize == "legacy":
        arr = _resize_legacy(arr, pre.resize_to)
    return np.ascontiguousarray(arr)


def _fit_for_crop(img: Image.Image, size: int, rule: str, source: str) -> Image.Image | None:
    """The image itself when it holds a size x size crop, else what the small-image rule says."""
    width, height = img.size
    if width >= size and height >= size:
        return img
    if rule == "error":
        raise BadInput(
            f"{source}: image is {width}x{height}, smaller than center_crop {size}; "
            "set reference.small: upscale or skip, or a smaller reference.center_crop"
        )
    if rule == "skip":
        log.info("%s: skipped, %dx%d is smaller than center_crop %d", source, width, height, size)
        return None
    scale = size / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    return img.resize(new_size, resample=Image.Resampling.BICUBIC)


def _center_crop(img: Image.Image, size: int) -> Image.Image:
    # Floor offsets: with an odd margin the extra pixel is dropped on the right / bottom.
    left = (img.size[0] - size) // 2
    top = (img.size[1] - size) // 2
    return img.crop((left, top, left + size, top + size))


def _resize_clean(arr: np.ndarray, size: int) -> np.ndarray:
    """clean-fid's resize: PIL bicubic (antialiased) per channel in float, then rounded to uint8."""
    channels = []
    for c in range(arr.shape[2]):
        plane = Image.fromarray(arr[:, :, c].astype(np.float32))
        channels.append(np.asarray(plane.resize((size, size), resample=Image.Resampling.BICUBIC)))
    return _quantize(np.stack(channels, axis=-1))


def _resize_legacy(arr: np.ndarray, size: int) -> np.ndarray:
    """The legacy PyTorch resize: bilinear, align_corners=False, no antialias, then rounded to uint8."""
    x = torch.from_numpy(arr.astype(np.float32)).permute(2, 0, 1).unsqueeze(0)
    y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    return _quantize(y[0].permute(1, 2, 0).numpy())


def _quantize(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
