"""FD-DINOv2 from PNG files to the number (`diffeval sets --metric fd_dinov2`) equals dgm-eval's pipeline, transcribed
here independently from github.com/layer6ai-labs/dgm-eval (dataloaders.py: `Image.open(path).convert('RGB')`;
models/dinov2.py DINOv2Encoder.transform: torchvision Resize((224, 224), BICUBIC) on the PIL image, ToTensor,
Normalize(ImageNet mean, std); the model's CLS token after the final norm; metrics/fd.py: np.mean, np.cov,
scipy sqrtm with the eps fallback), on 512x384 / 384x512 striped images and the tiny random-weight Dinov2Model.
Tolerance: 1e-3 relative (float32 features; with 3 images a side the covariances are singular)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
import yaml
from PIL import Image

from tests.metrics.from_files import pngs, sets_values, write_folders


def dgm_eval_fd(folder_a, folder_b, dinov2_folder: str) -> float:
    import torchvision.transforms as TF
    from transformers import Dinov2Model

    model = Dinov2Model.from_pretrained(dinov2_folder).eval()
    transform = TF.Compose([TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.ToTensor(),
                            TF.Normalize(np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))])

    @torch.no_grad()
    def reps(folder) -> np.ndarray:
        x = torch.stack([transform(Image.open(p).convert("RGB")) for p in pngs(folder)]).float()
        return model(pixel_values=x).pooler_output.numpy().astype(np.float64)

    (x, y) = reps(folder_a), reps(folder_b)
    mu1, mu2, s1, s2 = x.mean(0), y.mean(0), np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def test_fd_dinov2_from_files_equals_dgm_eval(metric_models, tmp_path, capsys):
    folders = write_folders(tmp_path / "images")
    model = str(metric_models["dinov2"])
    spec = tmp_path / "metrics.yaml"
    spec.write_text(yaml.safe_dump({"metrics": {"fd_dinov2": {"model": model}}}))
    ours = sets_values(capsys, str(folders["A"]), str(folders["B"]), "--store", str(tmp_path / "s"), "--spec", str(spec),
                       "--metric", "fd_dinov2")["fd_dinov2"]
    expected = dgm_eval_fd(folders["A"], folders["B"], model)
    assert expected > 0
    assert ours == pytest.approx(expected, rel=1e-3)
