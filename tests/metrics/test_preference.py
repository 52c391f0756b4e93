"""PickScore and HPS v2 per image: equal to each model's own recipe, computed directly on the same images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from artifacts.errors import BadInput
from tasks.extractors.clip import clip_extractors, load_clip
from tasks.extractors.hps import hps_extractors, load_open_clip, release_checkpoint
from tasks.metrics.pickscore import logit_scale, preference_scores
from tasks.models.resolve import resolve_model
from tests.metrics.test_fd_dinov2 import images, png

PROMPTS = ["a photo of a cat", "a red cube on top of a blue sphere", "a castle on a hill " * 20]  # the last one is cut


def test_pickscore_matches_the_pickscore_recipe(metric_models):
    """PickScore's README: processor(images), processor(text, padding, truncation, max_length=77), normalised
    get_*_features, logit_scale.exp() * text @ image."""
    from transformers import CLIPModel, CLIPProcessor

    folder = str(metric_models["pickscore"])
    arrays = images(3, 5, size=50)
    model, processor = CLIPModel.from_pretrained(folder).eval(), CLIPProcessor.from_pretrained(folder)
    with torch.inference_mode():
        image = model.get_image_features(**processor(images=[Image.fromarray(a) for a in arrays], return_tensors="pt"))
        text = model.get_text_features(**processor(text=PROMPTS, padding=True, truncation=True, max_length=77, return_tensors="pt"))
        image, text = [getattr(t, "pooler_output", t) for t in (image, text)]
        image, text = image / image.norm(dim=-1, keepdim=True), text / text.norm(dim=-1, keepdim=True)
        expected = (model.logit_scale.exp() * (image * text).sum(-1)).numpy()

    resolved = resolve_model(folder, kind="clip")
    image_ex, text_ex = clip_extractors(resolved, "cpu", truncate="tokenizer", processor=resolved)
    ours = preference_scores(image_ex.batch([(str(i), png(a)) for i, a in enumerate(arrays)])["embed"],
                             text_ex.batch(PROMPTS)["embed"], logit_scale(resolved))
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    assert logit_scale(resolved) == pytest.approx(100.0, rel=1e-5)  # read from the safetensors, as trained PickScore's


def test_a_separate_processor_changes_the_fingerprints(metric_models, tiny_models):
    pick = resolve_model(str(metric_models["pickscore"]), kind="clip")
    other = resolve_model(str(tiny_models["clip"]), kind="clip")
    plain = [e.fingerprint for e in clip_extractors(pick, "cpu", truncate="tokenizer")]
    separate = [e.fingerprint for e in clip_extractors(pick, "cpu", truncate="tokenizer", processor=other)]
    assert not set(plain) & set(separate)
    assert load_clip(pick, processor=other).processor.image_processor.crop_size["height"] == 32  # the tiny CLIP's


def test_hpsv2_matches_open_clip_directly(metric_models):
    """hpsv2.score: open_clip's eval transform and tokenizer, normalised encode_image / encode_text, the cosine."""
    import open_clip

    folder = metric_models["hpsv2"]
    arrays = images(3, 6, size=50)
    model, _, transform = open_clip.create_model_and_transforms(f"local-dir:{folder}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    with torch.inference_mode():
        image = model.encode_image(torch.stack([transform(Image.fromarray(a)) for a in arrays]))
        text = model.encode_text(tokenizer(PROMPTS))
        expected = torch.diagonal(torch.nn.functional.normalize(image, dim=-1) @ torch.nn.functional.normalize(text, dim=-1).T).numpy()

    image_ex, text_ex = hps_extractors(resolve_model(str(folder), kind="open_clip"), "ViT-H-14", "cpu")
    ours = preference_scores(image_ex.batch([(str(i), png(a)) for i, a in enumerate(arrays)])["embed"], text_ex.batch(PROMPTS)["embed"], 1.0)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_hpsv2_loads_a_release_style_pt_checkpoint_into_the_named_architecture(metric_models, tmp_path, monkeypatch):
    """The HPS v2 release ships HPS_v2_compressed.pt ({'state_dict': ...}) without an open_clip config."""
    import open_clip
    from safetensors.torch import load_file

    folder = metric_models["hpsv2"]
    state = load_file(str(folder / "open_clip_model.safetensors"))
    torch.save({"state_dict": state}, tmp_path / "HPS_v2_compressed.pt")
    config = json.loads((folder / "open_clip_config.json").read_text())
    monkeypatch.setitem(open_clip.factory._MODEL_CONFIGS, "tiny-hps", config["model_cfg"])
    resolved = resolve_model(str(tmp_path), kind="open_clip")
    loaded = load_open_clip(resolved, "tiny-hps")
    reference = load_open_clip(resolve_model(str(folder), kind="open_clip"), "ignored: the folder has its config")
    tokens = reference.tokenizer(PROMPTS[:1])
    with torch.inference_mode():
        assert torch.allclose(loaded.model.encode_text(tokens), reference.model.encode_text(tokens))
    # Beside another checkpoint (xswu/HPSv2 ships v2 and v2.1), HPS_v2_compressed.pt is the one loaded.
    torch.save({"state_dict": {}}, tmp_path / "HPS_v2.1_compressed.pt")
    assert release_checkpoint(resolve_model(str(tmp_path), kind="open_clip")).name == "HPS_v2_compressed.pt"
    (tmp_path / "HPS_v2_compressed.pt").rename(tmp_path / "other.pt")
    with pytest.raises(BadInput, match="not one .pt checkpoint"):
        release_checkpoint(resolve_model(str(tmp_path), kind="open_clip"))

