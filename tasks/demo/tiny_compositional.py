"""Random-weight stand-ins of the compositional metrics' models: a Mask2Former with COCO labels (GenEval's
detector) and a Qwen2-VL image-text-to-text model with its tokenizer and processor (VQAScore).

Saved with save_pretrained and read back through from_pretrained, as a user's checkpoint is. Their
heads are scaled up so random outputs are confident: the tiny detector finds objects above GenEval's
0.3 threshold and the tiny VLM's P("Yes") varies between images, which makes tables worth reading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers.convert_slow_tokenizer import bytes_to_unicode

from tasks.demo.tiny import _ensure_built, _seeded
from tasks.demo.weights import numpy_init_, strip_version_stamps
from tasks.inputs.geneval_prompts import geneval_classnames

TINY_SWIN: dict[str, Any] = {"image_size": 224, "patch_size": 4, "embed_dim": 16, "depths": [1, 1, 1, 1],
                             "num_heads": [1, 1, 2, 2], "window_size": 7,
                             "out_features": ["stage1", "stage2", "stage3", "stage4"]}
TINY_MASK2FORMER: dict[str, Any] = {"feature_size": 32, "mask_feature_size": 32, "hidden_dim": 32, "encoder_feedforward_dim": 64,
                                    "dim_feedforward": 64, "encoder_layers": 1, "decoder_layers": 2, "num_attention_heads": 4,
                                    "num_queries": 20}
QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                 "<|video_pad|>")
# Byte-level merges so that "Yes", " Yes", "No" and " No" are single tokens, as in Qwen's vocabulary.
QWEN_MERGES = (("Y", "e"), ("Ye", "s"), ("Ġ", "Y"), ("ĠY", "e"), ("ĠYe", "s"), ("N", "o"), ("Ġ", "N"), ("ĠN", "o"))
# Qwen2-VL's chat template, reduced to what a one-turn question with images needs.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_tiny_mask2former(out: Path, seed: int = 4) -> Path:
    """A Mask2FormerForUniversalSegmentation with COCO's 80 instance labels and its image processor."""
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessor, SwinConfig

    names = geneval_classnames()
    config = Mask2FormerConfig(backbone_config=SwinConfig(**TINY_SWIN), id2label=dict(enumerate(names)),
                               label2id={n: i for i, n in enumerate(names)}, **TINY_MASK2FORMER)
    with _seeded(seed):
        model = numpy_init_(Mask2FormerForUniversalSegmentation(config), seed, "mask2former")
        with torch.no_grad():
            model.class_predictor.weight.mul_(60.0)  # confident classes: scores above GenEval's 0.3
    model.save_pretrained(Path(out))
    Mask2FormerImageProcessor(size={"shortest_edge": 64, "longest_edge": 128}, ignore_index=255).save_pretrained(Path(out))
    strip_version_stamps(Path(out))
    return Path(out)


def tiny_qwen_tokenizer():
    """A byte-level BPE tokenizer with Qwen2-VL's special tokens (a few hundred tokens)."""
    from transformers import Qwen2Tokenizer

    merged = list(dict.fromkeys(a + b for a, b in QWEN_MERGES))
    vocab = {token: i for i, token in enumerate(list(bytes_to_unicode().values()) + merged)}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=list(QWEN_MERGES))
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN_SPECIALS[1:])})
    return tokenizer


def build_tiny_qwen2_vl(out: Path, seed: int = 5) -> Path:
    """A Qwen2VLForConditionalGeneration with its processor (tokenizer, image and video processors, chat template)."""
    from transformers import (Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor, Qwen2VLProcessor,
                              Qwen2VLVideoProcessor)

    tokenizer = tiny_qwen_tokenizer()
    ids = {s: tokenizer.convert_tokens_to_ids(s) for s in QWEN_SPECIALS}
    text = {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
            "rope_scaling": {"type": "mrope", "mrope_section": [2, 1, 1]}, "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"], "bos_token_id": None}
    vision = {"depth": 2, "embed_dim": 32, "hidden_size": 32, "num_heads": 4, "mlp_ratio": 2, "patch_size": 14,
              "spatial_merge_size": 2, "temporal_patch_size": 2}
    config = Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
                           video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                           vision_end_token_id=ids["<|vision_end|>"])
    with _seeded(seed):
        model = numpy_init_(Qwen2VLForConditionalGeneration(config), seed, "qwen2_vl")
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=28 * 28 * 16),
                                 tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor(), chat_template=QWEN_CHAT_TEMPLATE)
    _calibrate_answers(model.eval(), processor, tokenizer)
    model.save_pretrained(Path(out))
    processor.save_pretrained(Path(out))
    strip_version_stamps(Path(out))
    return Path(out)


@torch.no_grad()
def _calibrate_answers(model, processor, tokenizer) -> None:
    """Point the "Yes" and "No" rows of the LM head so that they dominate the next token and their odds follow
    the main direction in which a random model's last hidden state varies between inputs: P("Yes") then
    spreads over (0, 1) instead of sitting near 1 / vocabulary size."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (56 + 8 * i, 84 - 4 * i, 3), dtype=np.uint8)) for i in range(8)]
    texts = [f"<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Does this figure show a {w}?<|im_end|>\n"
             "<|im_start|>assistant\n" for w in ("dog", "cat", "red car", "bench", "clock", "kite", "pizza", "tie")]
    processor.tokenizer.padding_side = "left"
    inputs = processor(text=texts, images=images, padding=True, return_tensors="pt")
    hidden = model(**inputs, output_hidden_states=True).hidden_states[-1][:, -1].double()
    center = hidden.mean(0)
    spread = torch.linalg.svd(hidden - center, full_matrices=False).Vh[0]
    sigma = ((hidden - center) @ spread).std()
    common, odds = 12.0 * center / center.dot(center), spread / sigma
    for token, sign in (("Yes", 1.0), ("ĠYes", 1.0), ("No", -1.0), ("ĠNo", -1.0)):
        model.lm_head.weight[tokenizer.convert_tokens_to_ids(token)] = (common + sign * odds).float()


def build_compositional_models(out_dir: str | Path) -> dict[str, Path]:
    """Build each missing stand-in into out_dir/<name>: {"mask2former": folder, "vlm": folder}."""
    out_dir = Path(out_dir).expanduser().resolve()
    return {"mask2former": _ensure_built(out_dir / "mask2former", build_tiny_mask2former),
            "vlm": _ensure_built(out_dir / "vlm", build_tiny_qwen2_vl)}
