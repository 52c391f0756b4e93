"""`diffeval sets`: FID / KID / IS between sets of images made elsewhere, equal to torchmetrics on the same images and
weights (the tiny FID Inception the project builds); named statistics; pytorch-fid / clean-fid .npz files."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
from torchmetrics.image.kid import KernelInceptionDistance

from flows.app.cli import main

SIZE = 299


def _images(n: int, seed: int, dark: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 90 if dark else 255, size=(n, 1, 1, 3))
    return np.clip(base + rng.normal(0, 10 if dark else 40, size=(n, SIZE, SIZE, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Folder A: 5 PNGs; folder B: 3 PNGs at 299 x 299 (n != m), not made by the project."""
    root = tmp_path_factory.mktemp("sets")
    arrays = {"A": _images(5, 0), "B": _images(3, 1, dark=True)}
    for name, array in arrays.items():
        (root / name).mkdir()
        for i, pixels in enumerate(array):
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    return root, arrays


def _sets(capsys, *argv) -> dict:
    assert main(["sets", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _values(result: dict) -> dict:
    return {(r["metric"], r["a"], r["b"]): r["value"] for r in result["rows"]}


def _nchw(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


class _Once(torch.nn.Module):
    """torchmetrics' Inception, run once per distinct batch: FID and KID are given the same images (a CPU pass is slow)."""

    def __init__(self, weights: str):
        super().__init__()
        self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=weights)
        self.seen: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = hashlib.sha256(x.cpu().numpy().tobytes()).hexdigest()
        if key not in self.seen:
            self.seen[key] = self.net(x)
        return self.seen[key]


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_folder_against_folder_equals_torchmetrics_and_named_stats_are_reused(sets, tiny_models, tmp_path, capsys):
    root, arrays = sets
    weights, store = str(tiny_models["inception"]), str(tmp_path / "store")
    common = ["--store", store, "--inception-weights", weights]
    first = _sets(capsys, str(root / "A"), str(root / "B"), *common, "--save-stats", "ref-a")
    assert first["counts"] == {"features_extracted": 8, "features_reused": 0}
    values = _values(first)
    a, b = str(root / "A"), str(root / "B")

    inception = _Once(weights)
    fid = FrechetInceptionDistance(feature=inception)
    kid = KernelInceptionDistance(feature=inception, subsets=100, subset_size=3)  # the default, cut to n_b
    for metric in (fid, kid):
        metric.update(_nchw(arrays["A"]), real=True)
        metric.update(_nchw(arrays["B"]), real=False)
    assert values[("fid", a, b)] == pytest.approx(fid.compute().item(), rel=1e-3)
    torch.manual_seed(0)  # our KID draws its subsets from bootstrap_seed 0, in torchmetrics' order
    mean, std = (v.item() for v in kid.compute())
    assert values[("kid", a, b)] == pytest.approx(mean, rel=1e-3, abs=1e-6)
    assert values[("kid_std", a, b)] == pytest.approx(std, rel=1e-3, abs=1e-6)
    # IS of each set on its own (its math against torchmetrics: tests/metrics/test_fid.py).
    assert {k[1] for k in values if k[0] == "is"} == {a, b} and all(v >= 1 for k, v in values.items() if k[0] == "is")
    assert first["saved"]["name"] == "ref-a" and first["saved"]["n"] == 5

    # The saved statistics as an input: nothing is extracted the second time, and every value is the same.
    again = _sets(capsys, "stats:ref-a", b, *common)
    assert again["counts"]["features_extracted"] == 0
    assert {(m, bb): v for (m, aa, bb), v in _values(again).items() if aa != b} == \
           {(m, bb): v for (m, aa, bb), v in values.items() if aa != b}

    # The .npz it wrote holds pytorch-fid's keys and A's statistics; one written by hand (as pytorch-fid does) is read
    # as a reference and gives the same FID (one Fréchet distance at d = 2048 costs seconds: computed once here).
    from artifacts.named_stats import read_npz
    from artifacts.store import Store
    from artifacts import features as cache
    from tasks.stages.set_inputs import resolve_input

    pool = cache.gather(Store(store), first["saved"]["extractors"][0], list(resolve_input(Store(store), a).shas))["pool"]
    mu, sigma = pool.astype(np.float64).mean(0), np.cov(pool.astype(np.float64), rowvar=False)
    saved_mu, saved_sigma = read_npz(first["saved"]["npz"])
    np.testing.assert_allclose(saved_mu, mu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(saved_sigma, sigma, rtol=1e-9, atol=1e-12)
    by_hand = tmp_path / "pytorch-fid.npz"
    np.savez(by_hand, mu=mu, sigma=sigma)
    assert _values(_sets(capsys, str(by_hand), b, *common))[("fid", str(by_hand), b)] == pytest.approx(values[("fid", a, b)], rel=1e-4)

    # A manifest of the same files is the same set: same value, nothing extracted.
    manifest = tmp_path / "b.csv"
    with manifest.open("w", newline="") as handle:
        csv.writer(handle).writerows([["file_name"]] + [[str(p)] for p in sorted((root / "B").glob("*.png"))])
    by_manifest = _sets(capsys, a, str(manifest), *common, "--metric", "fid")
    assert by_manifest["counts"]["features_extracted"] == 0
    assert _values(by_manifest)[("fid", a, str(manifest))] == values[("fid", a, b)]


def test_kid_against_npz_statistics_is_one_line(sets, tiny_models, tmp_path, capsys):
    root, _ = sets
    stats = tmp_path / "ref.npz"
    np.savez(stats, mu=np.zeros(2048), sigma=np.eye(2048))
    rc = main(["sets", str(stats), str(root / "B"), "--metric", "kid", "--store", str(tmp_path / "s"),
               "--inception-weights", str(tiny_models["inception"])])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "holds mu and sigma only (pytorch-fid / clean-fid statistics), so FID only; drop --metric kid" in err[0]
    assert main(["sets", "stats:nothing", str(root / "B"), "--store", str(tmp_path / "s")]) == 2
    assert "stats:nothing: no statistics saved under that name" in capsys.readouterr().err
    assert main(["sets", str(root / "A"), str(root / "B"), "--metric", "nope", "--store", str(tmp_path / "s")]) == 2
    assert "--metric nope: not a set metric (registered: fid, kid, is" in capsys.readouterr().err


def test_fd_dinov2_and_cmmd_between_folders_read_their_own_extractors(sets, tiny_models, metric_models, tmp_path, capsys):
    """Every registered set metric works in `sets`: FD-DINOv2 on DINOv2 CLS features and CMMD on CLIP embeddings,
    each equal to a direct computation (numpy / scipy) on the features the command cached."""
    import scipy.linalg
    import yaml

    from artifacts.store import Store
    from artifacts import features as cache
    from tasks.stages.set_inputs import resolve_input

    root, _ = sets
    spec = tmp_path / "sets.yaml"  # the metrics' models come from a spec, as in a run
    spec.write_text(yaml.safe_dump({
        "name": "sets", "task": "text-to-image", "prompts": {"source": "builtin"},
        "models": [{"name": "m", "path": str(tiny_models["sd-a"])}], "reference": {"path": str(root / "A")},
        "metrics": {"fd_dinov2": {"model": str(metric_models["dinov2"])}, "cmmd": {"model": str(metric_models["cmmd-clip"])}}}))
    store, a, b = str(tmp_path / "store"), str(root / "A"), str(root / "B")
    out = _sets(capsys, a, b, "--store", store, "--spec", str(spec), "--metric", "fd_dinov2", "--metric", "cmmd")
    assert out["counts"] == {"features_extracted": 16, "features_reused": 0}  # 8 images x 2 extractors
    values = _values(out)
    rows = {r["metric"]: r for r in out["rows"]}
    assert rows["fd_dinov2"]["record"]["extractor"].startswith("dinov2-")
    assert rows["cmmd"]["record"]["extractor"].startswith("cmmd-clip-") and rows["cmmd"]["record"]["cmmd_estimator"] == "biased"

    def cached(extractor: str, folder: str) -> np.ndarray:
        (column,) = cache.gather(Store(store), rows[extractor]["record"]["extractor"], list(resolve_input(Store(store), folder).shas)).values()
        return column.astype(np.float64)

    x, y = cached("fd_dinov2", a), cached("fd_dinov2", b)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    fd = ((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert values[("fd_dinov2", a, b)] == pytest.approx(fd, rel=1e-3, abs=1e-6)

    x, y = cached("cmmd", a), cached("cmmd", b)
    k = lambda u, v: np.exp(-((u[:, None] - v[None]) ** 2).sum(-1) / (2 * 10.0**2))  # noqa: E731
    cmmd = 1000 * (k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    assert values[("cmmd", a, b)] == pytest.approx(cmmd, rel=1e-3, abs=1e-9)
