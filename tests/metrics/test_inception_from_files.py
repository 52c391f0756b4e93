"""FID, KID and IS from PNG files to the number (`diffeval sets`), on 512x384 / 384x512 striped images and a random
FID Inception state dict, equal to the references' own code paths on the same files:

- default (no crop, no resize; the network's own bilinear resize to 299 with antialias, torchmetrics' default):
  torchmetrics' FrechetInceptionDistance / KernelInceptionDistance / InceptionScore fed each file as PIL decodes
  it (`np.array(Image.open(p).convert("RGB"))`, uint8 NCHW, one image per update: their sizes differ), as the
  diffusers guide does. Tolerance: FID and KID 1e-3 relative, IS 1e-4 relative (float32 features both sides).
- `--resize clean`: clean-fid 0.1.35's own `compare_folders(mode="clean")` (PIL open, RGB, per-channel float PIL
  bicubic to 299) and `kernel_distance`, with torch-fidelity's FeatureExtractorInceptionV3 on the same weights as
  its feature model. That network takes uint8, so the float resize is rounded (np.rint) before it, as diffeval
  stores it; tolerance FID 1e-3 relative, KID 1e-3 relative.

- `metrics.inception_resize: tf1`: torch-fidelity's own `calculate_metrics` on the folders (its TF1-style bilinear
  resize to 299 inside the network, no antialias); tolerance FID 1e-3, IS 1e-4 relative.

KID is a small difference of large kernel means, so float32 noise in the features (other batch sizes) moves it
most: 1e-2 relative or 1e-6 absolute. KID's subsets hold every image (subset_size = n) and IS has one split, so
neither depends on a random draw.
"""

from __future__ import annotations

import numpy as np
import pytest

import torch
import yaml
from PIL import Image

from tests.metrics.from_files import pngs, sets_values, write_folders
from tests.metrics.test_fid import weights  # noqa: F401  (random Inception whose logits vary, so IS is not ~1)

# One IS split: its std is NaN. About 30 s a test on one CPU thread (full-size Inception on 6 images, twice).
pytestmark = [pytest.mark.filterwarnings("ignore:std\\(\\)"), pytest.mark.slow]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return write_folders(tmp_path_factory.mktemp("inception-files"))


def _ours(folders, weights, tmp_path, capsys, *flags, network_resize: str = "antialias") -> dict[str, float]:
    spec = tmp_path / "metrics.yaml"
    spec.write_text(yaml.safe_dump({"metrics": {"inception_weights": weights, "inception_resize": network_resize, "fid": {},
                                                "kid": {"subsets": 2, "subset_size": 3}, "is": {"splits": 1}}}))
    return sets_values(capsys, str(folders["A"]), str(folders["B"]), "--spec", str(spec), "--store", str(tmp_path / "s"),
                       "--metric", "fid", "--metric", "kid", "--metric", "is", *flags)


def _pil_nchw(path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None].contiguous()


@pytest.mark.filterwarnings("ignore:Metric `.*` will save")
def test_default_equals_torchmetrics_fed_the_decoded_files(folders, weights, tmp_path, capsys):  # noqa: F811
    from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
    from torchmetrics.image.inception import InceptionScore
    from torchmetrics.image.kid import KernelInceptionDistance

    def net(layer):
        return NoTrainInceptionV3(name="inception-v3-compat", features_list=[layer], feature_extractor_weights_path=weights)

    fid, kid = FrechetInceptionDistance(feature=net("2048")), KernelInceptionDistance(feature=net("2048"), subsets=2, subset_size=3)
    score = InceptionScore(feature=net("logits_unbiased"), splits=1)
    for side, real in (("A", True), ("B", False)):
        for path in pngs(folders[side]):
            fid.update(_pil_nchw(path), real=real)
            kid.update(_pil_nchw(path), real=real)
            if not real:
                score.update(_pil_nchw(path))
    ours = _ours(folders, weights, tmp_path, capsys)
    assert ours["fid"] == pytest.approx(fid.compute().item(), rel=1e-3)
    assert ours["kid"] == pytest.approx(kid.compute()[0].item(), rel=1e-2, abs=1e-6)
    assert ours[f"is[{folders['B']}]"] == pytest.approx(score.compute()[0].item(), rel=1e-4)
    assert ours[f"is[{folders['B']}]"] > 1.05  # the logits really vary


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:Matrix is singular")
def test_resize_clean_equals_clean_fid_on_the_same_files(folders, weights, tmp_path, capsys):  # noqa: F811
    cleanfid = pytest.importorskip("cleanfid.fid", reason="clean-fid is not installed (pip install -e '.[test]')")
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    network = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=weights).eval()

    def feat_model(batch: torch.Tensor) -> torch.Tensor:  # clean-fid hands float [0, 255] at 299 x 299
        return network(torch.round(batch.clamp(0, 255)).to(torch.uint8))[0]

    opts = {"mode": "clean", "num_workers": 0, "batch_size": 3, "device": torch.device("cpu"), "verbose": False}
    expected_fid = cleanfid.compare_folders(str(folders["A"]), str(folders["B"]), feat_model, **opts)
    feats = [cleanfid.get_folder_features(str(folders[s]), feat_model, **opts) for s in ("A", "B")]
    expected_kid = cleanfid.kernel_distance(feats[0], feats[1], num_subsets=1, max_subset_size=3)
    ours = _ours(folders, weights, tmp_path, capsys, "--resize", "clean")
    assert ours["fid"] == pytest.approx(expected_fid, rel=1e-3)
    assert ours["kid"] == pytest.approx(expected_kid, rel=1e-2, abs=1e-6)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_tf1_network_resize_equals_torch_fidelity_on_the_same_files(folders, weights, tmp_path, capsys):  # noqa: F811
    """torch-fidelity's own calculate_metrics on the folders: PIL RGB uint8, its TF1-style bilinear to 299 inside the
    network (no antialias), the same weights file; `metrics.inception_resize: tf1` selects that resize."""
    import torch_fidelity

    expected = torch_fidelity.calculate_metrics(
        input1=str(folders["B"]), input2=str(folders["A"]), fid=True, kid=True, isc=True, cuda=False, batch_size=1,
        verbose=False, feature_extractor_weights_path=weights, kid_subset_size=3, kid_subsets=2, isc_splits=1)
    ours = _ours(folders, weights, tmp_path, capsys, network_resize="tf1")
    assert ours["fid"] == pytest.approx(expected["frechet_inception_distance"], rel=1e-3)
    assert ours["kid"] == pytest.approx(expected["kernel_inception_distance_mean"], rel=1e-2, abs=1e-6)
    assert ours[f"is[{folders['B']}]"] == pytest.approx(expected["inception_score_mean"], rel=1e-4)
