"""The aesthetic score against an independent transcription of improved-aesthetic-predictor's simple_inference.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artifacts.errors import BadInput
from tasks.demo.tiny_quality_models import HEAD_FILES, build_quality_models
from tasks.extractors.aesthetic_clip import aesthetic_clip_extractor
from tasks.metrics.aesthetic import embeds_to_aesthetic, load_head
from tasks.models.resolve import resolve_model


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return build_quality_models(tmp_path_factory.mktemp("quality"), ("aesthetic-clip", "aesthetic-heads"))


def _images(folder: Path) -> list[Path]:
    """Non-square images larger than the model input (the crop and the bicubic resize matter), PNG and JPEG."""
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate([(300, 257), (257, 401), (640, 480)]):
        path = folder / f"img{i}.{'jpg' if i == 1 else 'png'}"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _simple_inference(clip_folder: Path, head_path: Path, image_paths: list[Path]) -> np.ndarray:
    """simple_inference.py transcribed: MLP(768)-style head (Dropouts kept, eval), clip's preprocess, encode_image,
    numpy normalized(), the head in float32. clip.load's model is transformers' CLIPModel.get_image_features here."""
    from torchvision import transforms as T
    from transformers import CLIPModel

    state = torch.load(head_path, weights_only=True)
    if "weight" in state:
        head = torch.nn.Linear(state["weight"].shape[1], 1)
    else:
        d = state["layers.0.weight"].shape[1]
        head = torch.nn.Sequential(torch.nn.Linear(d, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128), torch.nn.Dropout(0.2),
                                   torch.nn.Linear(128, 64), torch.nn.Dropout(0.1), torch.nn.Linear(64, 16), torch.nn.Linear(16, 1))
        state = {k.removeprefix("layers."): v for k, v in state.items()}
    head.load_state_dict(state)
    head.eval()
    clip = CLIPModel.from_pretrained(clip_folder).eval()
    n_px = clip.config.vision_config.image_size
    preprocess = T.Compose([T.Resize(n_px, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(n_px),
                            lambda im: im.convert("RGB"), T.ToTensor(),
                            T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])

    def normalized(a, axis=-1, order=2):
        l2 = np.atleast_1d(np.linalg.norm(a, order, axis))
        l2[l2 == 0] = 1
        return a / np.expand_dims(l2, axis)

    out = []
    for path in image_paths:
        image = preprocess(Image.open(path)).unsqueeze(0)
        with torch.no_grad():
            features = clip.get_image_features(pixel_values=image)
            if not isinstance(features, torch.Tensor):  # newer transformers return an output object
                features = features.pooler_output
            emb = normalized(features.cpu().detach().numpy())
            out.append(float(head(torch.from_numpy(emb).type(torch.FloatTensor))[0, 0]))
    return np.array(out)


@pytest.mark.parametrize("kind", ["mlp", "linear"])
def test_aesthetic_equals_simple_inference(models, tmp_path, kind):
    paths = _images(tmp_path)
    resolved = resolve_model(str(models["aesthetic-clip"]), kind="clip")
    extractor = aesthetic_clip_extractor(resolved, "cpu", batch_size=2)
    embeds = extractor.batch([(p.name, p.read_bytes()) for p in paths])["embed"]
    head_path = models["aesthetic-heads"] / HEAD_FILES[kind]
    ours = embeds_to_aesthetic(embeds, load_head(str(head_path))[1])
    reference = _simple_inference(models["aesthetic-clip"], head_path, paths)
    assert load_head(str(head_path))[0] == kind
    assert np.abs(ours - reference).max() < 1e-5, (ours, reference)
    assert len(set(np.round(ours, 6))) == len(paths)


def test_the_two_heads_give_different_numbers(models):
    embeds = np.random.default_rng(1).normal(size=(4, 16)).astype(np.float32)
    mlp = embeds_to_aesthetic(embeds, load_head(str(models["aesthetic-heads"] / HEAD_FILES["mlp"]))[1])
    linear = embeds_to_aesthetic(embeds, load_head(str(models["aesthetic-heads"] / HEAD_FILES["linear"]))[1])
    assert not np.allclose(mlp, linear)


def test_a_file_that_is_no_head_is_one_line(tmp_path):
    bad = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(1, 4)}, bad)
    with pytest.raises(BadInput, match=r"neither the v2 MLP .*found: fc.weight"):
        load_head(str(bad))
    with pytest.raises(BadInput, match="file not found"):
        load_head(str(tmp_path / "missing.pth"))
