"""CMMD from PNG files to the number equals google-research cmmd's pipeline, transcribed here independently from
the PyTorch port (github.com/sayakpaul/cmmd-pytorch: io_util.py, embedding.py, distance.py), which follows the JAX
original (google-research/cmmd): read, center-crop to a square, PIL bicubic (antialiased) to the CLIP input size,
/255, torch bicubic to the same size, CLIPImageProcessor's normalisation only, image_embeds / norm, then the
biased MMD with sigma 10, x 1000, in float32. Tolerance: 1e-3 relative (float32 kernel means in the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from tests.metrics.from_files import pngs, sets_values, write_folders


def reference_cmmd(folder_a, folder_b, clip_folder: str) -> float:
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    processor = CLIPImageProcessor.from_pretrained(clip_folder)
    model = CLIPVisionModelWithProjection.from_pretrained(clip_folder).eval()
    size = processor.crop_size["height"]

    def read(path) -> np.ndarray:  # io_util: _read_image with _center_crop_and_resize
        im = Image.open(path)
        w, h = im.size
        side = min(w, h)
        top, left = (h - side) // 2, (w - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), resample=Image.BICUBIC)
        return np.asarray(im).astype(np.float32)

    @torch.no_grad()
    def embed(folder) -> np.ndarray:  # io_util's batch / 255, then embedding.py's ClipEmbeddingModel.embed
        batch = np.stack([read(p) for p in pngs(folder)]) / 255.0
        x = torch.from_numpy(batch.transpose(0, 3, 1, 2))
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic").permute(0, 2, 3, 1).numpy()
        inputs = processor(images=x, do_normalize=True, do_center_crop=False, do_resize=False, do_rescale=False,
                           return_tensors="pt")
        embs = model(**inputs).image_embeds
        return (embs / torch.linalg.norm(embs, axis=-1, keepdims=True)).numpy()

    x, y = torch.from_numpy(embed(folder_a)), torch.from_numpy(embed(folder_b))  # distance.py's mmd

    def kernel_mean(u, v):
        gamma = 1 / (2 * 10**2)
        sq = -2 * u @ v.T + torch.diag(u @ u.T)[:, None] + torch.diag(v @ v.T)[None, :]
        return torch.mean(torch.exp(-gamma * sq))

    return float(1000 * (kernel_mean(x, x) + kernel_mean(y, y) - 2 * kernel_mean(x, y)))


def test_cmmd_from_files_equals_google_research_cmmd(metric_models, tmp_path, capsys):
    folders = write_folders(tmp_path / "images")
    clip = str(metric_models["cmmd-clip"])
    spec = tmp_path / "metrics.yaml"
    spec.write_text(yaml.safe_dump({"metrics": {"cmmd": {"model": clip}}}))
    args = [str(folders["A"]), str(folders["B"]), "--store", str(tmp_path / "store"), "--spec", str(spec), "--metric", "cmmd"]
    ours = sets_values(capsys, *args)["cmmd"]
    expected = reference_cmmd(folders["A"], folders["B"], clip)
    assert ours == pytest.approx(expected, rel=1e-3)
    # The old rule (whole image squashed by torch bicubic) is a named option with its own features, and differs here.
    spec.write_text(yaml.safe_dump({"metrics": {"cmmd": {"model": clip, "transform": "torch-bicubic"}}}))
    squashed = sets_values(capsys, *args)["cmmd"]
    assert abs(squashed - expected) > 1e-2 * abs(expected)
