"""Decoding, center crop, small-image rules and resize modes, checked by hand and against PIL / torch."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import tasks.extractors.preprocess as preprocess
from artifacts.errors import BadInput
from artifacts.keys import key_of
from tasks.extractors.preprocess import Preprocess, decode_image, image_to_uint8


def _coords_image(width: int, height: int) -> Image.Image:
    """Each pixel holds its own (x, y, 7): a crop's offsets can be read off its first pixel."""
    ys, xs = np.mgrid[0:height, 0:width]
    return Image.fromarray(np.stack([xs, ys, np.full_like(xs, 7)], axis=-1).astype(np.uint8))


def _png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def _noise(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("width", "height", "left", "top"),
    [(7, 6, 1, 1), (8, 5, 2, 0), (5, 9, 0, 2), (4, 4, 0, 0)],  # odd margins drop the extra pixel right/bottom
)
def test_center_crop_offsets(width: int, height: int, left: int, top: int) -> None:
    out = image_to_uint8(_coords_image(width, height), Preprocess(center_crop=4), "img")
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert (out[0, 0, 0], out[0, 0, 1]) == (left, top)
    np.testing.assert_array_equal(out, np.asarray(_coords_image(width, height))[top : top + 4, left : left + 4])


def test_small_image_rules() -> None:
    img = _coords_image(20, 10)
    with pytest.raises(BadInput, match=r"small\.png: image is 20x10, smaller than center_crop 16"):
        image_to_uint8(img, Preprocess(center_crop=16, small="error"), "small.png")
    assert image_to_uint8(img, Preprocess(center_crop=16, small="skip"), "small.png") is None
    # upscale: short side to 16 with PIL bicubic (20x10 -> 32x16), then the centre 16x16.
    expected = np.asarray(img.resize((32, 16), resample=Image.Resampling.BICUBIC))[0:16, 8:24]
    np.testing.assert_array_equal(image_to_uint8(img, Preprocess(center_crop=16, small="upscale"), "s"), expected)
    # An image that is large enough is untouched by every rule.
    big = _coords_image(16, 30)
    outs = [image_to_uint8(big, Preprocess(center_crop=16, small=rule), "b") for rule in ("error", "skip", "upscale")]
    assert all(np.array_equal(outs[0], o) for o in outs)


def test_no_crop_no_resize_keeps_pixels() -> None:
    arr = _noise(9)
    np.testing.assert_array_equal(image_to_uint8(Image.fromarray(arr), Preprocess(center_crop=None), "x"), arr)


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    values = np.array([[0, 257, 1000], [32896, 65280, 65535]], dtype=np.uint16)
    img = decode_image(_png(Image.fromarray(values)), "deep.png")
    out = np.asarray(img)
    assert img.mode == "RGB"
    np.testing.assert_array_equal(out[..., 0], [[0, 1, 4], [128, 254, 255]])  # round(v / 257)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_mode_conversions_keep_colours(monkeypatch, caplog) -> None:
    monkeypatch.setattr(preprocess, "_warned_modes", set())
    rgb = _noise(6, seed=1)
    rgba = np.concatenate([rgb, np.full((6, 6, 1), 77, np.uint8)], axis=-1)
    with caplog.at_level(logging.WARNING, logger="tasks.extractors.preprocess"):
        out = decode_image(_png(Image.fromarray(rgba)), "alpha.png")
    np.testing.assert_array_equal(np.asarray(out), rgb)  # alpha dropped, as .convert("RGB")
    assert "alpha.png: image mode RGBA converted to RGB" in caplog.text
    gray = rgb[..., 0]
    out = decode_image(_png(Image.fromarray(gray)), "g.png")
    np.testing.assert_array_equal(np.asarray(out), np.stack([gray] * 3, -1))
    palette = Image.fromarray(rgb).quantize(colors=8)
    np.testing.assert_array_equal(np.asarray(decode_image(_png(palette), "p.png")), np.asarray(palette.convert("RGB")))
    la = Image.fromarray(gray).convert("LA")
    np.testing.assert_array_equal(np.asarray(decode_image(_png(la), "la.png"))[..., 0], gray)


def test_jpeg_decodes_close_to_the_original() -> None:
    ys, xs = np.mgrid[0:32, 0:32]
    smooth = np.stack([xs * 8, ys * 8, (xs + ys) * 4], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(smooth).save(buffer, format="JPEG", quality=95)
    out = np.asarray(decode_image(buffer.getvalue(), "photo.jpg"))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - smooth).mean() < 3


def test_unreadable_bytes_are_bad_input() -> None:
    with pytest.raises(BadInput, match=r"^broken\.png: cannot read image \(.*\); replace or remove the file$"):
        decode_image(b"\x89PNG not really", "broken.png")


def test_legacy_resize_is_torch_bilinear_without_antialias() -> None:
    arr = _noise(16, seed=2)
    out = image_to_uint8(Image.fromarray(arr), Preprocess(center_crop=None, resize="legacy", resize_to=8), "x")
    # By hand: a 2x bilinear downscale with align_corners=False samples between pixels: the 2x2 mean.
    block_mean = arr.astype(np.float64).reshape(8, 2, 8, 2, 3).mean(axis=(1, 3))
    np.testing.assert_array_equal(out, np.rint(block_mean).astype(np.uint8))
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].float()
    ref = F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False, antialias=False)[0].permute(1, 2, 0)
    np.testing.assert_array_equal(out, np.clip(np.rint(ref.numpy()), 0, 255).astype(np.uint8))


def test_clean_resize_is_pil_bicubic_with_antialias() -> None:
    arr = _noise(40, seed=3)
    out = image_to_uint8(Image.fromarray(arr), Preprocess(center_crop=None, resize="clean", resize_to=13), "x")
    assert out.shape == (13, 13, 3)
    # clean-fid: each channel resized as a float image by PIL bicubic (antialiased when shrinking).
    planes = [
        np.asarray(Image.fromarray(arr[..., c].astype(np.float32)).resize((13, 13), Image.Resampling.BICUBIC))
        for c in range(3)
    ]
    np.testing.assert_array_equal(out, np.clip(np.rint(np.stack(planes, -1)), 0, 255).astype(np.uint8))
    # PIL's own 8-bit bicubic path differs only by its fixed-point rounding.
    pil8 = np.asarray(Image.fromarray(arr).resize((13, 13), Image.Resampling.BICUBIC)).astype(int)
    assert np.abs(out.astype(int) - pil8).max() <= 1
    legacy = image_to_uint8(Image.fromarray(arr), Preprocess(center_crop=None, resize="legacy", resize_to=13), "x")
    assert np.abs(out.astype(int) - legacy).mean() > 5  # the two modes really differ on detailed images


def test_preprocess_validation_and_fingerprint() -> None:
    with pytest.raises(BadInput, match="reference.resize: unknown mode 'bilinear'"):
        Preprocess(resize="bilinear")
    with pytest.raises(BadInput, match="reference.small: unknown rule"):
        Preprocess(small="pad")
    with pytest.raises(BadInput, match="reference.resize_to: set without a resize mode"):
        Preprocess(resize_to=299)
    assert Preprocess(resize="clean").resize_to == 299
    variants = [Preprocess(), Preprocess(center_crop=None), Preprocess(resize="clean"), Preprocess(resize="legacy"),
                Preprocess(resize="clean", resize_to=128), Preprocess(small="skip")]
    keys = {key_of(p.fingerprint()) for p in variants}
    assert len(keys) == len(variants)
    assert key_of(Preprocess().fingerprint()) == key_of(Preprocess(256, "none", None, "upscale").fingerprint())
