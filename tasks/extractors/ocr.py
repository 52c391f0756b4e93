"""OCR as an extractor: the text an OCR model reads in each image, cached per (image content, model, settings).

Pluggable: READERS maps a reader name (the spec's `metrics.text_rendering.reader`) to a loader that
returns a function from PIL images to strings; `trocr` is transformers' VisionEncoderDecoderModel
with its processor (TrOCRProcessor), generate() with the model's own generation config and
`max_new_tokens`, decoded without special tokens. A VLM reader is one more entry. The text is stored
as Unicode code points in a fixed-width float32 row (MAX_CHARS, -1 padded: exact below 2^24), so it
lives in the same feature cache as every embedding.
"""

from __future__ import annotations

import functools
import io
from typing import Callable

import numpy as np
import torch
from PIL import Image

from artifacts.keys import key_of
from tasks.extractors.registry import Extractor
from tasks.models.resolve import ResolvedModel

MAX_CHARS = 1024
Reader = Callable[[list[Image.Image]], list[str]]


def load_trocr(resolved: ResolvedModel, device: str, max_new_tokens: int) -> Reader:
    """TrOCR (or any VisionEncoderDecoderModel with a processor) as a reader."""
    from transformers import AutoProcessor, VisionEncoderDecoderModel

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    processor = AutoProcessor.from_pretrained(resolved.local_dir)
    model = VisionEncoderDecoderModel.from_pretrained(resolved.local_dir).eval().to(device)

    @torch.inference_mode()
    def read(images: list[Image.Image]) -> list[str]:
        pixels = processor(images=[im.convert("RGB") for im in images], return_tensors="pt").pixel_values.to(device)
        ids = model.generate(pixels, max_new_tokens=max_new_tokens)
        return processor.batch_decode(ids, skip_special_tokens=True)

    read.model, read.processor = model, processor  # for benches: the same loaded objects
    return read


READERS: dict[str, Callable[[ResolvedModel, str, int], Reader]] = {"trocr": load_trocr}


def ocr_fingerprint(resolved: ResolvedModel, reader: str, max_new_tokens: int) -> str:
    """The feature table's name: model content (its generation config included), reader, decoding settings."""
    described = {"extractor": f"ocr-{reader}", "model": resolved.fingerprint, "max_new_tokens": max_new_tokens,
                 "decode": "generate-model-generation-config-skip-special-tokens", "storage": f"codepoints-{MAX_CHARS}"}
    return "ocr-" + key_of(described)[:24]


@functools.cache
def cached_reader(resolved: ResolvedModel, reader: str, device: str, max_new_tokens: int) -> Reader:
    """Loaded once per process, and only when some image is actually unread."""
    return READERS[reader](resolved, device, max_new_tokens)


def texts_to_codes(texts: list[str]) -> np.ndarray:
    """Strings -> [N, MAX_CHARS] float32 code points, -1 after the end (longer texts cut at MAX_CHARS)."""
    out = np.full((len(texts), MAX_CHARS), -1.0, np.float32)
    for i, text in enumerate(texts):
        codes = [ord(c) for c in text[:MAX_CHARS]]
        out[i, : len(codes)] = codes
    return out


def codes_to_texts(codes: np.ndarray) -> list[str]:
    """The inverse of texts_to_codes."""
    return ["".join(chr(int(c)) for c in row if c >= 0) for row in np.asarray(codes)]


def ocr_extractor(resolved: ResolvedModel, reader: str, device: str, max_new_tokens: int, batch_size: int = 16) -> Extractor:
    """Images -> {"codes"}: what the OCR model reads; the model loads only when an image is unread."""

    def batch(pairs: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        images = [Image.open(io.BytesIO(data)) for _, data in pairs]
        read = cached_reader(resolved, reader, device, max_new_tokens)
        return {"codes": texts_to_codes([t for s in range(0, len(images), batch_size) for t in read(images[s : s + batch_size])])}

    return Extractor(f"ocr-{reader}", ocr_fingerprint(resolved, reader, max_new_tokens), "images", batch, batch_size)
