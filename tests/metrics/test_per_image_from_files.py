"""CLIP score, directional similarity, PickScore and HPS v2 from PNG files to the number, on 512x384 / 384x512
striped images (larger than every model's input, not square), equal to each reference's own code path on the same
files opened with PIL. Ours reads the files' bytes through the metric's extractors (as a run reads the store's
PNGs) and scores them with the metric's own function; the tiny random-weight models stand in for the real ones.

| metric | reference code path | tolerance |
| CLIP score | torchmetrics `_clip_score_update` on `np.array(Image.open(p).convert("RGB"))` as uint8 CHW | 1e-4 abs per image |
| directional similarity | the diffusers guide's `DirectionalSimilarity` on `Image.open(p)` | 1e-5 abs per pair |
| PickScore | PickScore's README snippet (transformers CLIPProcessor / CLIPModel) on `Image.open(p)` | 1e-4 rel + abs |
| HPS v2 | hpsv2.score's steps: open_clip `preprocess_val(Image.open(p))`, tokenizer, normalised cosine | 1e-5 rel, 1e-6 abs |
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from artifacts.keys import sha256_bytes
from tasks.extractors.clip import clip_extractors
from tasks.extractors.hps import hps_extractors
from tasks.metrics.clip_score import clip_scores
from tasks.metrics.directional import directional_similarity
from tasks.metrics.pickscore import logit_scale, preference_scores
from tasks.models.resolve import resolve_model
from tests.metrics.from_files import pngs, write_folders

PROMPTS = ["the blue circle", "a red line on the circle", "then the blue cube " * 12]  # the last is cut at 77 tokens


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folders = write_folders(tmp_path_factory.mktemp("per-image-files"))
    return pngs(folders["A"]), pngs(folders["B"])


def _pairs(paths) -> list[tuple[str, bytes]]:
    return [(sha256_bytes(p.read_bytes()), p.read_bytes()) for p in paths]


def test_clip_score_equals_torchmetrics_on_the_files(files, tiny_models):
    from torchmetrics.functional.multimodal.clip_score import _clip_score_update
    from transformers import CLIPModel, CLIPProcessor

    from tests.metrics.test_clip_score import WrappedClip

    folder, paths = str(tiny_models["clip"]), files[0]
    image, text = clip_extractors(resolve_model(folder, kind="clip"), "cpu")
    ours = clip_scores(image.batch(_pairs(paths))["embed"], text.batch(PROMPTS)["embed"])
    model, processor = WrappedClip(CLIPModel.from_pretrained(folder).eval()), CLIPProcessor.from_pretrained(folder)
    for value, path, prompt in zip(ours, paths, PROMPTS):
        chw = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)
        expected, _ = _clip_score_update(chw, prompt, model, processor)
        assert abs(value - expected.item()) < 1e-4


def test_directional_similarity_equals_the_guide_on_the_files(files, tmp_path_factory):
    from tests.metrics.test_edit_metrics import GuideDirectionalSimilarity, clip_dir

    folder = clip_dir.__wrapped__(type("Request", (), {"param": "first-eos"}), tmp_path_factory)
    sources, edited = files
    captions_in, captions_out = ["the blue circle"] * 3, ["the red circle", "a blue line", "the circle on the line"]
    guide = GuideDirectionalSimilarity(folder)
    expected = guide([Image.open(p) for p in sources], [Image.open(p) for p in edited], captions_in, captions_out).numpy()
    image, text = clip_extractors(resolve_model(folder, kind="clip"), "cpu", truncate="tokenizer")
    ours = directional_similarity(image.batch(_pairs(sources))["embed"], image.batch(_pairs(edited))["embed"],
                                  text.batch(captions_in)["embed"], text.batch(captions_out)["embed"])
    assert np.all(np.abs(ours) > 1e-3)
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_pickscore_equals_its_published_snippet_on_the_files(files, metric_models):
    from transformers import CLIPModel, CLIPProcessor

    folder, paths = str(metric_models["pickscore"]), files[0]
    model, processor = CLIPModel.from_pretrained(folder).eval(), CLIPProcessor.from_pretrained(folder)
    with torch.no_grad():  # PickScore's README: calc_probs before the softmax, one prompt per image here
        image = model.get_image_features(**processor(images=[Image.open(p) for p in paths], padding=True, truncation=True,
                                                     max_length=77, return_tensors="pt"))
        text = model.get_text_features(**processor(text=PROMPTS, padding=True, truncation=True, max_length=77, return_tensors="pt"))
        image, text = [getattr(t, "pooler_output", t) for t in (image, text)]
        image, text = image / torch.norm(image, dim=-1, keepdim=True), text / torch.norm(text, dim=-1, keepdim=True)
        expected = (model.logit_scale.exp() * (text * image).sum(-1)).numpy()
    resolved = resolve_model(folder, kind="clip")
    image_ex, text_ex = clip_extractors(resolved, "cpu", truncate="tokenizer", processor=resolved)
    ours = preference_scores(image_ex.batch(_pairs(paths))["embed"], text_ex.batch(PROMPTS)["embed"], logit_scale(resolved))
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_hpsv2_equals_hpsv2_score_steps_on_the_files(files, metric_models):
    import open_clip

    folder, paths = metric_models["hpsv2"], files[1]
    model, _, preprocess_val = open_clip.create_model_and_transforms(f"local-dir:{folder}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    model.eval()
    expected = []
    with torch.no_grad():  # hpsv2/img_score.py score(): one image and the prompt at a time
        for path, prompt in zip(paths, PROMPTS):
            # hpsv2 builds the model with output_dict=True; the tuple holds the same normalised features.
            image_features, text_features = model(preprocess_val(Image.open(path)).unsqueeze(0), tokenizer([prompt]))[:2]
            expected.append(torch.diagonal(image_features @ text_features.T).item())
    image_ex, text_ex = hps_extractors(resolve_model(str(folder), kind="open_clip"), "ViT-H-14", "cpu")
    ours = preference_scores(image_ex.batch(_pairs(paths))["embed"], text_ex.batch(PROMPTS)["embed"], 1.0)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
