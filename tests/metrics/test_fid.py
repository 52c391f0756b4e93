"""FID / KID / IS math against scipy and torchmetrics, on a random-weight FID Inception (CPU, no download)."""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import pytest
import scipy.linalg
import torch
from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3, _compute_fid
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from artifacts.errors import BadInput
from tasks.metrics.fid import GaussianStats, _checked, features_to_stats, frechet_distance, stats_to_fid
from tasks.metrics.inception_score import logits_to_inception_score
from tasks.metrics.kid import features_to_kid
from tasks.extractors.inception import inception_fingerprint, load_fid_inception, uint8_to_inception_features
from tasks.extractors.preprocess import Preprocess

N_IMAGES = 8  # per set: each image costs ~0.2 s per network pass on one CPU thread


def frechet_distance_sqrtm(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """The classic form (pytorch-fid / torch-fidelity): scipy sqrtm of S1 S2, eps on the diagonal if singular
    (the reference the symmetric-eigenvalue form is checked against)."""
    mu1, mu2, s1, s2 = _checked(mu1, sigma1, mu2, sigma2)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm: imaginary component {np.max(np.abs(covmean.imag)):g}")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _spd(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(d, rank or 2 * d))
    return a @ a.T / a.shape[1]


def _scipy_fid(mu1, s1, mu2, s2) -> float:
    """The independent reference: the textbook formula with scipy.linalg.sqrtm."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("d", [2, 16, 64])
def test_frechet_distance_matches_scipy_sqrtm_and_torchmetrics(d: int) -> None:
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = _spd(rng, d), _spd(rng, d)
    ref = _scipy_fid(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance_sqrtm(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-6)
    tm = _compute_fid(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2))).item()
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(tm, rel=1e-6)


def test_frechet_distance_on_singular_covariances_agrees_with_eps_fix() -> None:
    # Fewer samples than dimensions (the usual small-run case): both covariances are singular.
    rng = np.random.default_rng(1)
    d = 48
    s1, s2 = _spd(rng, d, rank=10), _spd(rng, d, rank=12)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    primary = frechet_distance(mu1, s1, mu2, s2)
    assert primary == pytest.approx(frechet_distance_sqrtm(mu1, s1, mu2, s2), rel=1e-4)
    tm = _compute_fid(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2))).item()
    assert primary == pytest.approx(tm, rel=1e-6)


def test_identical_sets_give_zero_fid() -> None:
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(200, 16)) * rng.uniform(0.1, 3, size=16)
    stats = features_to_stats(feats)
    assert abs(stats_to_fid(stats, stats)) < 1e-9
    mu, cov = stats.mean_cov()
    assert abs(frechet_distance(mu, cov, mu, cov)) < 1e-9


def test_stats_merge_in_any_order_equals_stats_of_all() -> None:
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(90, 8)).astype(np.float32)
    whole = features_to_stats(feats)
    shards = [features_to_stats(feats[i : i + 30]) for i in range(0, 90, 30)]
    for order in itertools.permutations(shards):
        merged = GaussianStats.empty(8)
        for shard in order:
            merged = merged.merge(shard)
        assert merged.n == whole.n
        np.testing.assert_allclose(merged.sum, whole.sum, rtol=0, atol=1e-9)
        np.testing.assert_allclose(merged.sum_outer, whole.sum_outer, rtol=0, atol=1e-9)
    mean, cov = whole.mean_cov()
    np.testing.assert_allclose(mean, feats.astype(np.float64).mean(0), atol=1e-12)
    np.testing.assert_allclose(cov, np.cov(feats.astype(np.float64), rowvar=False), atol=1e-12)


def test_too_few_samples_are_bad_input_and_unfitted_settings_a_caller_error() -> None:
    feats = np.zeros((1, 4))
    with pytest.raises(BadInput, match="at least 2"):
        stats_to_fid(features_to_stats(feats), features_to_stats(feats))
    with pytest.raises(BadInput, match=r"kid: needs at least 2 images on each side \(got 1 real, 7 generated\)"):
        features_to_kid(feats, np.zeros((7, 4)), subset_size=1)
    with pytest.raises(BadInput, match=r"inception score: needs at least 2 generated images \(got 1\)"):
        logits_to_inception_score(np.zeros((1, 10)), splits=1)
    # the stage fits subset_size and splits to the sets (tests/metrics/test_fid.py::test_stage_fits_...)
    with pytest.raises(ValueError, match="subset_size 1000 does not fit 2..5"):
        features_to_kid(np.zeros((5, 4)), np.zeros((7, 4)))
    with pytest.raises(ValueError, match="splits 10 does not fit 1..3"):
        logits_to_inception_score(np.zeros((3, 10)), splits=10)


# --- end to end against torchmetrics, on one random-weight Inception ---------------------------


def _random_inception_state() -> dict[str, torch.Tensor]:
    """A torch-fidelity InceptionV3 with random He-normal convs (PyTorch's default init vanishes)."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: None), mock.patch.object(
        fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None
    ):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    gen = torch.Generator().manual_seed(0)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for name, value in state.items():
        if name.endswith("conv.weight"):
            state[name] = torch.randn(value.shape, generator=gen) * (2.0 / value[0].numel()) ** 0.5
    return state


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> str:
    """Random FID Inception weights whose unbiased logits vary between images (so IS is not ~1)."""
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    state = _random_inception_state()
    torch.save(state, path)
    calib = uint8_to_inception_features(load_fid_inception(str(path)), _images(2, seed=99))[0]
    centre = torch.from_numpy(calib.mean(0, dtype=np.float64)).float()
    w = torch.randn(state["fc.weight"].shape, generator=torch.Generator().manual_seed(1))
    # Remove the direction of the mean pool feature, so logits follow what differs between images.
    w -= (w @ centre)[:, None] * centre[None, :] / (centre @ centre)
    state["fc.weight"] = w * 6.0  # larger scales underflow float32 softmax in torchmetrics (NaN IS)
    torch.save(state, path)
    return str(path)


def _images(n: int, seed: int, dark: bool = False) -> np.ndarray:
    """n NHWC uint8 32x32 images: a per-image colour plus noise (a dark, smooth family when `dark`)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 60 if dark else 255, size=(n, 1, 1, 3))
    noise = rng.normal(0, 8 if dark else 40, size=(n, 32, 32, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def sets(weights: str) -> dict[str, np.ndarray]:
    real, fake = _images(N_IMAGES, seed=0), _images(N_IMAGES, seed=1, dark=True)
    model = load_fid_inception(weights)
    pool_r, logits_r = uint8_to_inception_features(model, real)
    pool_f, logits_f = uint8_to_inception_features(model, fake)
    return {"real": real, "fake": fake, "pool_r": pool_r, "logits_r": logits_r, "pool_f": pool_f, "logits_f": logits_f}


def _tm_inception(weights: str, layer: str) -> NoTrainInceptionV3:
    return NoTrainInceptionV3(name="inception-v3-compat", features_list=[layer], feature_extractor_weights_path=weights)


def _nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def test_fid_end_to_end_matches_torchmetrics(weights: str, sets: dict[str, np.ndarray]) -> None:
    # torchmetrics' default: float32 network, float64 sums and linear algebra, result cast to float32.
    # set_dtype(torch.float64) would also run the network in float64; it is not needed for 1e-3 and
    # doubles the cost of this test.
    fid = FrechetInceptionDistance(feature=_tm_inception(weights, "2048"))
    fid.update(_nchw(sets["real"]), real=True)
    fid.update(_nchw(sets["fake"]), real=False)
    expected = fid.compute().item()
    ours = stats_to_fid(features_to_stats(sets["pool_r"]), features_to_stats(sets["pool_f"]))
    assert expected > 1e-3  # the two families really differ
    assert ours == pytest.approx(expected, rel=1e-3)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_matches_torchmetrics_with_the_same_seed(weights: str, sets: dict[str, np.ndarray]) -> None:
    kid = KernelInceptionDistance(feature=_tm_inception(weights, "2048"), subsets=6, subset_size=6)
    kid.update(_nchw(sets["real"]), real=True)
    kid.update(_nchw(sets["fake"]), real=False)
    torch.manual_seed(123)
    mean_tm, std_tm = (v.item() for v in kid.compute())
    mean, std = features_to_kid(sets["pool_r"], sets["pool_f"], subsets=6, subset_size=6, seed=123)
    assert mean == pytest.approx(mean_tm, rel=1e-3, abs=1e-6)
    assert std == pytest.approx(std_tm, rel=1e-3, abs=1e-6)
    assert mean > 2 * std  # a real difference, not sampling noise


@pytest.mark.filterwarnings("ignore:Metric `InceptionScore` will save")
def test_inception_score_matches_torchmetrics_with_the_same_seed(weights: str, sets: dict[str, np.ndarray]) -> None:
    metric = InceptionScore(feature=_tm_inception(weights, "logits_unbiased"), splits=4)
    metric.update(_nchw(sets["fake"]))
    torch.manual_seed(7)
    mean_tm, std_tm = (v.item() for v in metric.compute())
    mean, std = logits_to_inception_score(sets["logits_f"], splits=4, seed=7)
    assert mean > 1.5
    assert mean == pytest.approx(mean_tm, rel=1e-3)
    assert std == pytest.approx(std_tm, rel=1e-3, abs=1e-6)


def test_feature_extraction_does_not_depend_on_batch_size(weights: str, sets: dict[str, np.ndarray]) -> None:
    model = load_fid_inception(weights)
    singles = [uint8_to_inception_features(model, sets["real"][i : i + 1]) for i in range(2)]
    singles.append(uint8_to_inception_features(model, _nchw(sets["real"][2:3])))  # NCHW input too
    pool = np.concatenate([p for p, _ in singles])
    logits = np.concatenate([l for _, l in singles])
    assert pool.dtype == np.float32 and pool.shape == (3, 2048) and logits.shape == (3, 1008)
    assert np.abs(pool - sets["pool_r"][:3]).max() < 1e-4
    # Logits are scaled up by the fixture: the same bound relative to their size.
    assert np.abs(logits - sets["logits_r"][:3]).max() < 1e-4 * max(1.0, np.abs(logits).max())


def test_weights_errors_and_fingerprint(weights: str, tmp_path) -> None:
    with pytest.raises(BadInput, match="file not found"):
        load_fid_inception(str(tmp_path / "missing.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="not a plain state dict"):
        load_fid_inception(str(junk))
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    offline = mock.patch.object(fe, "load_state_dict_from_url", side_effect=OSError("no network"))
    with offline, pytest.raises(BadInput, match="not available offline.*metrics.inception_weights"):
        load_fid_inception(None)
    pre = Preprocess()
    first = inception_fingerprint(weights, pre)
    assert first == inception_fingerprint(weights, pre) and first.startswith("inception-")
    assert first != inception_fingerprint(weights, Preprocess(center_crop=None))
    assert first != inception_fingerprint(None, pre)


def test_small_set_shortcut_equals_the_running_sum_path():
    from tasks.metrics.fid import features_to_fid, features_to_stats, stats_to_fid

    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(12, 64)), rng.normal(0.3, 1.2, size=(9, 64)) @ rng.normal(size=(64, 64)) / 8
    full = stats_to_fid(features_to_stats(real), features_to_stats(fake))
    assert abs(features_to_fid(real, fake) - full) <= 1e-6 * abs(full)  # the eigh path clips rounding-level negative eigenvalues
    assert abs(features_to_fid(real, real)) < 1e-9
    big_real, big_fake = rng.normal(size=(80, 16)), rng.normal(size=(70, 16))  # n >= d takes the sums path
    assert features_to_fid(big_real, big_fake) == stats_to_fid(features_to_stats(big_real), features_to_stats(big_fake))


def test_kid_kernel_cache_equals_the_per_subset_path(monkeypatch):
    import tasks.metrics.kid as kid

    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(60, 32)), rng.normal(0.2, 1.0, size=(50, 32))
    cached = kid.features_to_kid(real, fake, subsets=20, subset_size=15, seed=3)
    monkeypatch.setattr(kid, "KERNEL_CACHE_MAX", 0)
    direct = kid.features_to_kid(real, fake, subsets=20, subset_size=15, seed=3)
    assert np.allclose(cached, direct, rtol=1e-10, atol=1e-12)
