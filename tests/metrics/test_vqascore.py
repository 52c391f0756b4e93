"""VQAScore on a tiny random Qwen2-VL saved and loaded back: P("Yes") against a hand computation from the logits."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from artifacts.errors import BadInput
from tasks.demo.tiny_compositional import build_compositional_models
from tasks.extractors.vqa import cached_vlm, pairs_to_yes_probability, qwen_smart_resize
from tasks.models.resolve import resolve_model
from tasks.plan.metric_inputs import check_vlm_folder

QUESTION = 'Does this figure show "{}"? Please answer Yes or No.'


@pytest.fixture(scope="module")
def vlm_folder(tmp_path_factory):
    return build_compositional_models(tmp_path_factory.getbasetemp() / "compositional")["vlm"]


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((90, 130), (120, 70))]


def test_smart_resize_as_qwen_vl_utils():
    assert qwen_smart_resize(1024, 1024, 28) == (1036, 1036)
    assert qwen_smart_resize(10, 500, 28) == (28, 504)
    assert qwen_smart_resize(8000, 8000, 28, max_pixels=1000 * 28 * 28) == (868, 868)  # floor(8000 / beta / 28) * 28
    assert qwen_smart_resize(20, 20, 28) == (56, 56)  # below 4 * 28 * 28: scaled up, ceil


def test_yes_probability_matches_a_hand_computation(vlm_folder):
    vlm = cached_vlm(resolve_model(str(vlm_folder), kind="transformers"), "cpu", "float32")
    prompts = ["a red dog", "two cats sitting on a long blue mat"]
    got = pairs_to_yes_probability(vlm, _images(), prompts, QUESTION, "Yes")
    yes = vlm.processor.tokenizer.convert_tokens_to_ids("Yes")
    for image, prompt, value in zip(_images(), prompts, got):
        # By hand: Qwen's chat layout, qwen_vl_utils' resize, one unpadded forward pass, softmax of the last logits.
        text = (f"<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>{QUESTION.format(prompt)}<|im_end|>\n"
                "<|im_start|>assistant\n")
        h, w = qwen_smart_resize(image.height, image.width, 28)
        inputs = vlm.processor(text=[text], images=[image.resize((w, h), Image.BICUBIC)], do_resize=False, return_tensors="pt")
        with torch.inference_mode():
            logits = vlm.model(**inputs).logits[0, -1].double()
        expected = torch.softmax(logits, dim=-1)[yes].item()
        assert value == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert 0.0 < got.min() and got.max() < 1.0 and got[0] != pytest.approx(got[1])


def test_batch_size_does_not_change_scores(vlm_folder):
    vlm = cached_vlm(resolve_model(str(vlm_folder), kind="transformers"), "cpu", "float32")
    prompts = ["a red dog", "two cats sitting on a long blue mat"]
    together = pairs_to_yes_probability(vlm, _images(), prompts, QUESTION, "Yes")
    alone = [pairs_to_yes_probability(vlm, [img], [p], QUESTION, "Yes")[0] for img, p in zip(_images(), prompts)]
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-6)


def test_vlm_folder_without_processor_is_one_line(vlm_folder, tmp_path):
    bare = tmp_path / "bare-vlm"
    bare.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        shutil.copy(vlm_folder / name, bare / name)
    with pytest.raises(BadInput) as err:
        check_vlm_folder(resolve_model(str(bare), kind="transformers"), "metrics.vqascore.model")
    message = str(err.value)
    assert "\n" not in message and "folder has no processor" in message and "processor.save_pretrained" in message
    check_vlm_folder(resolve_model(str(vlm_folder), kind="transformers"), "metrics.vqascore.model")  # complete: passes
