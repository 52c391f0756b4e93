"""FD-DINOv2: dgm-eval's preprocessing, Dinov2Model's CLS output, and the Frechet distance against numpy + scipy."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from tasks.extractors.dinov2 import DGM_EVAL_SIZE, dinov2_extractor, images_to_dinov2_features, load_dinov2, uint8_to_dinov2_pixels
from tasks.extractors.preprocess import Preprocess
from tasks.metrics.fd_dinov2 import set_values
from tasks.models.resolve import resolve_model
from tasks.values.names import FD_DINOV2


def images(n: int, seed: int, shift: float = 0.0, size: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255 - 80 * shift, size=(n, 1, 1, 3)) + 80 * shift
    return list(np.clip(base + rng.normal(0, 40, size=(n, size, size, 3)), 0, 255).astype(np.uint8))


def png(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, format="PNG")
    return out.getvalue()


def numpy_scipy_fd(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook formula, written apart from ours: np.cov and scipy.linalg.sqrtm."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    mu1, mu2, s1, s2 = x.mean(0), y.mean(0), np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.fixture(scope="module")
def dinov2(metric_models):
    return resolve_model(str(metric_models["dinov2"]), kind="dinov2")


def test_preprocessing_is_dgm_evals_torchvision_transform():
    import torchvision.transforms as TF

    arr = images(1, 0, size=37)[0]
    dgm_eval = TF.Compose([TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.ToTensor(),
                           TF.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])(Image.fromarray(arr))
    ours = uint8_to_dinov2_pixels([arr])[0]
    assert ours.shape == (3, DGM_EVAL_SIZE, DGM_EVAL_SIZE)
    assert torch.allclose(ours, dgm_eval, atol=1e-5)


def test_features_are_the_cls_token_after_the_final_norm(dinov2):
    model = load_dinov2(dinov2)
    arrays = images(3, 1)
    with torch.inference_mode():
        hidden = model(pixel_values=uint8_to_dinov2_pixels(arrays)).last_hidden_state
    np.testing.assert_allclose(images_to_dinov2_features(model, arrays), hidden[:, 0].numpy(), atol=1e-6)
    # Batch size does not change a feature.
    np.testing.assert_allclose(images_to_dinov2_features(model, arrays, batch_size=1), hidden[:, 0].numpy(), atol=1e-5)


@pytest.mark.parametrize("n_real,n_fake", [(40, 24), (9, 6)])  # the running-sum path and the n x n shortcut (d = 32)
def test_fd_dinov2_matches_numpy_scipy_on_the_same_features(dinov2, n_real, n_fake):
    extractor = dinov2_extractor(dinov2, Preprocess(center_crop=None), "cpu", {})
    real = extractor.batch([(str(i), png(a)) for i, a in enumerate(images(n_real, 2))])
    fake = extractor.batch([(str(i), png(a)) for i, a in enumerate(images(n_fake, 3, shift=1.0))])
    assert real["cls"].shape == (n_real, 32)
    ((name, value),) = set_values(None, real, fake, {}, 0)
    assert name == FD_DINOV2
    expected = numpy_scipy_fd(real["cls"], fake["cls"])
    assert value == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert value > 0


def test_fingerprint_names_the_model_and_the_preprocessing(dinov2):
    a = dinov2_extractor(dinov2, Preprocess(center_crop=None), "cpu", {}).fingerprint
    b = dinov2_extractor(dinov2, Preprocess(center_crop=256), "cpu", {}).fingerprint
    c = dinov2_extractor(replace(dinov2, fingerprint="other-weights"), Preprocess(center_crop=None), "cpu", {}).fingerprint
    assert len({a, b, c}) == 3 and a.startswith("dinov2-")
