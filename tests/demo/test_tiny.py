"""Tiny random-weight models: they reload through from_pretrained, generate, and rebuild only when incomplete."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
from diffusers import (
    DiffusionPipeline,
    DiTPipeline,
    DPMSolverMultistepScheduler,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInstructPix2PixPipeline,
    StableDiffusionPipeline,
)
from PIL import Image
from torchmetrics.image.fid import NoTrainInceptionV3
from transformers import AutoProcessor, CLIPModel, CLIPProcessor, CLIPTextModel, CLIPTokenizer

from artifacts.errors import BadInput
from tasks.demo import tiny
from tasks.demo.tiny_configs import clip_b16_config, sd15_configs

GUIDE_LABELS = ["tench", "goldfish", "church", "parachute", "gas pump", "chain saw", "cassette player"]


@pytest.fixture(scope="module")
def models(tiny_models):
    """The session's tiny models (tests/conftest.py builds them once); tests here only read them."""
    return tiny_models


def _image(seed: int = 0, size: int = 64) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _quiet(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_builds_every_name_with_marker(models):
    assert set(models) == set(tiny.TINY_NAMES)
    for name, path in models.items():
        folder = path.parent if name == "inception" else path
        assert (folder / tiny.MARKER).is_file()
    assert models["inception"].name == tiny.INCEPTION_FILE
    leftovers = [p.name for p in models["sd-a"].parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_same_seed_gives_the_same_bytes(models):
    def weights(name, part):
        return (models[name] / part / "diffusion_pytorch_model.safetensors").read_bytes()

    # img2img is sd-a's checkpoint under another pipeline class; sd-b differs only in its seed.
    assert weights("img2img", "unet") == weights("sd-a", "unet") != weights("sd-b", "unet")
    index = json.loads((models["img2img"] / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionImg2ImgPipeline"


def test_second_call_builds_nothing(models):
    root = models["sd-a"].parent
    stamps = {p: p.stat().st_mtime_ns for p in root.glob(f"*/{tiny.MARKER}")}
    again = tiny.build_tiny_models(root)  # the unchanged markers show nothing was rebuilt (no timing: busy CPUs)
    assert again == models
    assert {p: p.stat().st_mtime_ns for p in root.glob(f"*/{tiny.MARKER}")} == stamps


def test_folder_without_marker_is_rebuilt(tmp_path):
    clip = tiny._ensure_built(tmp_path / "clip", tiny.build_tiny_clip)
    (clip / tiny.MARKER).unlink()  # as if the process died between the rename and the marker
    (clip / "junk-from-a-crash").write_text("x")
    assert tiny._ensure_built(clip, tiny.build_tiny_clip) == clip
    assert (clip / tiny.MARKER).is_file() and not (clip / "junk-from-a-crash").exists()
    CLIPModel.from_pretrained(clip)


def test_failed_build_leaves_nothing_behind(tmp_path):
    def explode(folder):
        (folder / "half-written").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        tiny._ensure_built(tmp_path / "model", explode)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_tokenizer_is_really_ours(models, tmp_path):
    expected = tiny.corpus_to_clip_tokenizer()
    sd_tokenizer = CLIPTokenizer.from_pretrained(models["sd-a"] / "tokenizer")
    encoding = sd_tokenizer("a photo of a red cat, make it a triangle")
    tokens = sd_tokenizer.convert_ids_to_tokens(encoding.input_ids)
    assert tokens[1:8] == ["a</w>", "photo</w>", "of</w>", "a</w>", "red</w>", "cat</w>", ",</w>"]
    assert sd_tokenizer.unk_token_id not in encoding.input_ids[1:-1]
    assert len(sd_tokenizer) == len(expected) < 3000
    assert CLIPTextModel.from_pretrained(models["sd-a"] / "text_encoder").config.vocab_size == len(sd_tokenizer)
    assert sd_tokenizer("zebra-striped ufo").input_ids == expected("zebra-striped ufo").input_ids
    long = sd_tokenizer("cat " * 200, truncation=True, max_length=sd_tokenizer.model_max_length).input_ids
    assert sd_tokenizer.model_max_length == 77 and len(long) == 77
    # Loaders that read only CLIP's vocab.json + merges.txt get the same tokenizer.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copy(models["clip"] / name, legacy / name)
    assert CLIPTokenizer.from_pretrained(legacy)("a blue dog").input_ids == expected("a blue dog").input_ids


def test_sd_variants_reload_and_differ(models):
    images = []
    for name in ("sd-a", "sd-b"):
        pipe = _quiet(DiffusionPipeline.from_pretrained(models[name]))
        assert type(pipe) is StableDiffusionPipeline and pipe.safety_checker is None
        out = pipe("a red cat", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np")
        images.append(out.images[0])
    assert images[0].shape == (64, 64, 3)
    assert not np.allclose(images[0], images[1])


def test_img2img_reloads_and_edits(models):
    pipe = _quiet(DiffusionPipeline.from_pretrained(models["img2img"]))
    assert type(pipe) is StableDiffusionImg2ImgPipeline
    out = pipe("a blue dog", image=_image(), strength=0.75, num_inference_steps=4,
               generator=torch.Generator().manual_seed(0))
    assert out.images[0].size == (64, 64)


def test_pix2pix_reloads_and_edits(models):
    pipe = _quiet(DiffusionPipeline.from_pretrained(models["pix2pix"]))
    assert type(pipe) is StableDiffusionInstructPix2PixPipeline and pipe.unet.config.in_channels == 8
    out = pipe("make it snow", image=_image(), num_inference_steps=2, guidance_scale=7.5,
               image_guidance_scale=1.5, generator=torch.Generator().manual_seed(0))
    assert out.images[0].size == (64, 64)


def test_dit_labels_survive_reload_and_generate(models):
    pipe = _quiet(DiffusionPipeline.from_pretrained(models["dit"]))
    assert type(pipe) is DiTPipeline
    ids = pipe.get_label_ids(GUIDE_LABELS)
    assert ids[:2] == [0, 1] and len(set(ids)) == len(ids)
    assert tiny.imagenet_id2label()[0] == "tench" and len(tiny.imagenet_id2label()) == 1000
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)  # as the guide does
    out = pipe(class_labels=ids[:2], num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert [image.size for image in out.images] == [(64, 64), (64, 64)]


def test_clip_folder_loads_like_a_hub_checkpoint(models):
    model = CLIPModel.from_pretrained(models["clip"])
    processor = CLIPProcessor.from_pretrained(models["clip"])
    assert type(AutoProcessor.from_pretrained(models["clip"])) is CLIPProcessor
    batch = processor(text=["a red cat", "a blue square"], images=[_image(1), _image(2)], return_tensors="pt",
                      padding=True)
    assert tuple(batch["pixel_values"].shape) == (2, 3, 32, 32)
    with torch.no_grad():
        out = model(**batch)
    assert tuple(out.image_embeds.shape) == (2, 16) and tuple(out.text_embeds.shape) == (2, 16)
    assert processor.tokenizer("a red cat").input_ids == tiny.corpus_to_clip_tokenizer()("a red cat").input_ids


def test_inception_loads_offline_and_logits_vary(models, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("tried to download Inception weights")

    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", no_download)
    net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                             feature_extractor_weights_path=str(models["inception"]))
    images = torch.from_numpy(np.stack([np.asarray(_image(seed, 32)) for seed in range(16)])).permute(0, 3, 1, 2)
    with torch.no_grad():
        features = net(images)
    assert features.shape == (16, 2048) and torch.isfinite(features).all()
    assert features.std(0).mean() > 1e-3  # O(1) features, not the ~1e-8 of an uncalibrated random net
    probs = (features @ net.fc.weight.T).softmax(1)  # what "logits_unbiased" gives Inception Score
    assert len(set(probs.argmax(1).tolist())) >= 4
    assert probs.max(1).values.min() < 0.99


def test_bad_pipeline_name_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="StableDiffusionPipeline"):
        tiny.build_tiny_sd(tmp_path, seed=0, pipeline="KandinskyPipeline")


def test_full_size_configs_have_the_real_sizes():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPConfig, CLIPTextConfig

    configs = sd15_configs()
    with torch.device("meta"):  # shapes only: no memory, no init
        sizes = {
            "unet": UNet2DConditionModel(**configs["unet"]),
            "vae": AutoencoderKL(**configs["vae"]),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**configs["text_encoder"])),
            "clip_b16": CLIPModel(CLIPConfig(**clip_b16_config())),
        }
    counts = {name: sum(p.numel() for p in module.parameters()) for name, module in sizes.items()}
    assert counts == {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480, "clip_b16": 149_620_737}
    assert json.loads(json.dumps(configs)) == configs  # plain JSON-able values
