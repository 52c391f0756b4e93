"""The one PNG encoder: every PNG diffusers writes (generated images, edit sources, demo images) goes through it."""

from __future__ import annotations

import io

from PIL import Image


def png_bytes(image: Image.Image) -> bytes:
    """8-bit RGB PNG bytes with fixed encoder settings (zlib level 6, no optimize pass: Pillow's defaults,
    spelled out because the bytes of a source image key every edit made from it)."""
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", compress_level=6, optimize=False)
    return out.getvalue()
