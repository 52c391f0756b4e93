"""CMMD: google-research cmmd's formula and embedding pipeline, ~0 within one distribution, growing with a shift."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tasks.extractors.cmmd_clip import cmmd_extractor, cmmd_fingerprint, images_to_cmmd_embeds, load_vision_clip
from tasks.extractors.preprocess import Preprocess
from tasks.metrics.cmmd import embeddings_to_cmmd
from tasks.models.resolve import resolve_model
from tests.metrics.test_fd_dinov2 import images, png


def numpy_mmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0, unbiased: bool = False) -> float:
    """cmmd/distance.py's mmd written directly: Gaussian RBF kernel means x 1000 (diagonals left out if unbiased)."""
    x, y = x.astype(np.float64), y.astype(np.float64)

    def kernel(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))

    def within(k):
        n = k.shape[0]
        return (k.sum() - np.trace(k)) / (n * (n - 1)) if unbiased else k.mean()

    return 1000 * (within(kernel(x, x)) + within(kernel(y, y)) - 2 * kernel(x, y).mean())


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_cmmd_matches_the_reference_formula(estimator):
    rng = np.random.default_rng(0)
    x, y = unit(rng.normal(size=(30, 16))), unit(rng.normal(0.3, 1, size=(20, 16)))
    assert embeddings_to_cmmd(x, y, estimator=estimator) == pytest.approx(numpy_mmd(x, y, unbiased=estimator == "unbiased"),
                                                                          rel=1e-9)
    assert embeddings_to_cmmd(x, y, sigma=0.5) == pytest.approx(numpy_mmd(x, y, sigma=0.5), rel=1e-9)


def test_about_zero_for_two_halves_of_one_distribution_and_growing_with_a_shift():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2000, 32))
    half_a, half_b = unit(base[:1000]), unit(base[1000:])
    same = embeddings_to_cmmd(half_a, half_b, estimator="unbiased")
    values = [embeddings_to_cmmd(half_a, unit(base[1000:] + shift), estimator="unbiased") for shift in (0.25, 0.5, 1.0)]
    assert abs(same) < 0.01 * values[0]
    assert values[0] < values[1] < values[2]
    # The biased estimator of one distribution is small and positive: its diagonals add ~1000 (2/n) (1 - E k).
    assert 0 < embeddings_to_cmmd(half_a, half_b) < values[0]


def test_too_few_images_or_an_unknown_estimator():
    from artifacts.errors import BadInput

    x = unit(np.ones((3, 4)))
    with pytest.raises(BadInput, match="cmmd: needs at least 2"):
        embeddings_to_cmmd(x[:1], x)
    with pytest.raises(ValueError, match="estimator"):
        embeddings_to_cmmd(x, x, estimator="mle")


def test_torch_bicubic_embeddings_are_cmmds_embedding_step(metric_models):
    """transform torch-bicubic, cmmd/embedding.py alone: [0, 1] floats, torch bicubic to the crop size, the processor
    normalising only, image_embeds / norm (the default io_util transform: tests/metrics/test_cmmd_from_files.py)."""
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    folder = str(metric_models["cmmd-clip"])
    arrays = images(3, 4, size=40)
    processor = CLIPImageProcessor.from_pretrained(folder)
    model = CLIPVisionModelWithProjection.from_pretrained(folder).eval()
    size = processor.crop_size["height"]
    assert size == 336
    batch = np.stack(arrays).astype(np.float32) / 255.0
    resized = torch.nn.functional.interpolate(torch.from_numpy(batch.transpose(0, 3, 1, 2)), size=(size, size), mode="bicubic")
    inputs = processor(images=resized.permute(0, 2, 3, 1).numpy(), do_normalize=True, do_center_crop=False, do_resize=False,
                       do_rescale=False, return_tensors="pt")
    with torch.inference_mode():
        embeds = model(**inputs).image_embeds
    expected = (embeds / torch.linalg.norm(embeds, dim=-1, keepdim=True)).numpy()
    resolved = resolve_model(folder, kind="clip")
    np.testing.assert_allclose(images_to_cmmd_embeds(load_vision_clip(resolved), arrays, transform="torch-bicubic"), expected, atol=1e-5)
    # Through the extractor (PNG bytes, the spec's preprocessing): the same rows, unit norm.
    old = cmmd_extractor(resolved, Preprocess(center_crop=None), "cpu", {}, transform="torch-bicubic")
    extracted = old.batch([(str(i), png(a)) for i, a in enumerate(arrays)])
    np.testing.assert_allclose(extracted["embed"], expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(extracted["embed"], axis=1), 1.0, atol=1e-5)


def test_the_transform_is_in_the_fingerprint(metric_models):
    """Features made by the old rule (torch-bicubic) are never reused for the reference's io_util rule."""
    resolved = resolve_model(str(metric_models["cmmd-clip"]), kind="clip")
    pre = Preprocess(center_crop=None)
    assert cmmd_fingerprint(resolved, pre) == cmmd_fingerprint(resolved, pre, "io_util")
    assert cmmd_fingerprint(resolved, pre, "torch-bicubic") != cmmd_fingerprint(resolved, pre, "io_util")
