"""Configs and the tokenizer of the random-weight models: tiny ones for tests and demos, full-size for benchmarks."""

from __future__ import annotations

import copy
import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

from transformers import CLIPTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

# Words the tiny tokenizer learns whole; anything else still tokenizes, byte by byte.
TOKENIZER_CORPUS: tuple[str, ...] = (
    "a photo of a cat", "a photo of a dog", "a picture of a bird on a branch", "an image of a horse",
    "a painting of a red circle", "a drawing of a blue square", "a green triangle on a white background",
    "a yellow star and an orange moon", "a purple flower in a brown pot", "a black car next to a gray house",
    "a pink pig and a golden fish", "a silver robot holding a sign", "a small cat sitting on a large dog",
    "a red cube on top of a blue sphere", "two cats and three dogs", "one apple, four bananas and five oranges",
    "make it snow", "make it a winter scene", "make it look like a painting", "make the sky blue",
    "turn it into a watercolor", "turn the cat into a tiger", "turn the dog into a wolf", "add a hat",
    "replace the car with a bicycle", "change the color to red", "remove the tree", "put a crown on the king",
    "a cute corgi wearing sunglasses", "an astronaut riding a horse on the moon", "a teddy bear in times square",
    "a bowl of soup that looks like a monster", "a city skyline at night with neon lights",
    "a mountain lake at sunset", "a forest in autumn with falling leaves", "a beach with palm trees",
    "a castle on a hill", "a bridge over a river", "a boat on the ocean", "a train in the desert",
    "an airplane in the clouds", "a kitchen with a wooden table", "a living room with a sofa and a lamp",
    "a portrait of an old man", "a portrait of a young woman", "a child playing with a ball",
    "a person reading a book", "a chef cooking pasta", "a musician playing the guitar",
    "a cartoon of an elephant", "a sketch of a giraffe", "a sculpture of a lion", "a monkey eating a banana",
    "a rabbit, a fox and a bear", "a cow, a sheep and a goat", "a zebra and a penguin", "an owl and an eagle",
    "a shark and a whale", "a frog on a leaf", "a snake in the grass", "a butterfly on a flower",
    "a sign that says hello world", "the word diffusion written in the sand", "a blackboard with math",
    "an oil painting in the style of van gogh", "a digital art illustration", "a 3d render", "pixel art",
    "a high quality photograph, detailed, 4k", "a blurry low resolution image", "a black and white photo",
    "the quick brown fox jumps over the lazy dog", "a rectangle, an oval, a hexagon and a heart shape",
    "left of", "right of", "above", "below", "behind", "in front of", "inside", "under", "over", "between",
    "tench", "goldfish", "church", "parachute", "gas pump", "chain saw", "cassette player", "golf ball",
    "pizza", "burger", "cake", "coffee", "cup", "bottle", "chair", "table", "clock", "phone", "computer",
)
TOKENIZER_VOCAB_SIZE = 2048
MAX_TEXT_LENGTH = 77  # CLIP's context length; prompts are truncated to it
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
EOW = "</w>"  # CLIP marks the last piece of a word with this suffix


def _merge_pair(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _corpus_to_merges(corpus: tuple[str, ...], max_merges: int) -> tuple[tuple[str, str], ...]:
    """Byte-level BPE merges learned on corpus, most frequent pair first, ties broken by the pair itself."""
    # Our own loop, not tokenizers' BpeTrainer: its tie-breaking follows hash order, so two builds
    # would get different vocabularies (and different model fingerprints).
    template = CLIPTokenizer().backend_tokenizer  # the normalizer and pre-tokenizer used at encode time
    words: Counter[tuple[str, ...]] = Counter()
    for text in corpus:
        for piece, _ in template.pre_tokenizer.pre_tokenize_str(template.normalizer.normalize_str(text)):
            words[(*piece[:-1], piece[-1] + EOW)] += 1
    merges: list[tuple[str, str]] = []
    while len(merges) < max_merges:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:  # every corpus word is one token
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        words = Counter({_merge_pair(word, best): count for word, count in words.items()})
    return tuple(merges)


def corpus_to_clip_tokenizer(corpus: tuple[str, ...] = TOKENIZER_CORPUS) -> CLIPTokenizer:
    """A byte-level BPE learned on `corpus`, laid out like CLIP's vocab (bytes, bytes</w>, merges, specials)."""
    byte_chars = list(bytes_to_unicode().values())
    # Every byte alone and word-final is in the vocab, so no text ever maps to the unknown token.
    tokens = byte_chars + [c + EOW for c in byte_chars]
    merges = _corpus_to_merges(tuple(corpus), TOKENIZER_VOCAB_SIZE - len(tokens) - 2)
    base = set(tokens)
    tokens += list(dict.fromkeys(a + b for a, b in merges if a + b not in base))
    # Specials last, as in CLIP: the eos id is the largest, which the legacy argmax pooling relies on.
    vocab = {token: i for i, token in enumerate([*tokens, BOS, EOS])}
    return CLIPTokenizer(vocab=vocab, merges=list(merges), model_max_length=MAX_TEXT_LENGTH)


def save_tokenizer_files(tokenizer: CLIPTokenizer, folder: Path) -> None:
    """Add CLIP's vocab.json + merges.txt next to tokenizer.json, for loaders that read only those."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    (folder / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(" ".join(pair) for pair in model["merges"])]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def special_ids(tokenizer: CLIPTokenizer) -> dict[str, int]:
    """The bos/eos/pad ids of `tokenizer`, as CLIP text configs name them."""
    return {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}


# Stable Diffusion's noise schedule, as runwayml/stable-diffusion-v1-5 ships it.
SD_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
    "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
}
# timbrooks/instruct-pix2pix ships an Euler ancestral scheduler on the same noise schedule.
PIX2PIX_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
    "steps_offset": 1, "prediction_type": "epsilon",
}
# facebook/DiT-XL-2-256 ships DDIM on the linear schedule.
DIT_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "linear", "num_train_timesteps": 1000,
    "clip_sample": False, "set_alpha_to_one": True, "steps_offset": 0, "prediction_type": "epsilon",
}

TINY_IMAGE_SIZE = 64
# Three VAE blocks downscale by 4: 16x16 latents keep a 64x64 image under 0.1 s on one CPU thread
# (a factor-2 VAE makes the UNet work on 32x32 latents and is 4x slower).
TINY_VAE: dict[str, Any] = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 8,
    "block_out_channels": [16, 32, 32], "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3, "sample_size": TINY_IMAGE_SIZE,
}
TINY_LATENT_SIZE = TINY_IMAGE_SIZE // 2 ** (len(TINY_VAE["block_out_channels"]) - 1)
TINY_TEXT_HIDDEN = 32


def tiny_unet_config(in_channels: int = 4) -> dict[str, Any]:
    """A two-level UNet2DConditionModel; in_channels=8 for InstructPix2Pix (noise + image latents)."""
    return {
        "sample_size": TINY_LATENT_SIZE, "in_channels": in_channels, "out_channels": 4, "layers_per_block": 1,
        "block_out_channels": [32, 64], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "cross_attention_dim": TINY_TEXT_HIDDEN,
        "attention_head_dim": 8, "norm_num_groups": 8,
    }


def tiny_text_config(vocab_size: int, special_ids: dict[str, int]) -> dict[str, Any]:
    """A two-layer CLIP text tower; special_ids holds bos/eos/pad_token_id of the tokenizer."""
    return {
        "vocab_size": vocab_size, "hidden_size": TINY_TEXT_HIDDEN, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": MAX_TEXT_LENGTH,
        "projection_dim": 16, **special_ids,
    }


TINY_CLIP_VISION: dict[str, Any] = {
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "image_size": 32, "patch_size": 8, "projection_dim": 16,
}
TINY_CLIP_PROJECTION = 16

TINY_DIT: dict[str, Any] = {
    "num_attention_heads": 2, "attention_head_dim": 16, "in_channels": 4, "out_channels": 8,
    "num_layers": 2, "sample_size": TINY_LATENT_SIZE, "patch_size": 2, "num_embeds_ada_norm": 1000,
    "norm_type": "ada_norm_zero", "norm_num_groups": 8,
}

# The real runwayml/stable-diffusion-v1-5 architectures, for throughput benchmarks.
_SD15: dict[str, dict[str, Any]] = {
    "unet": {
        "sample_size": 64, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
        "block_out_channels": [320, 640, 1280, 1280], "cross_attention_dim": 768, "attention_head_dim": 8,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "act_fn": "silu", "norm_num_groups": 32, "norm_eps": 1e-05, "flip_sin_to_cos": True, "freq_shift": 0,
        "downsample_padding": 1, "mid_block_scale_factor": 1, "center_input_sample": False,
    },
    "vae": {
        "sample_size": 512, "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2,
        "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4, "act_fn": "silu", "norm_num_groups": 32,
    },
    # CLIP ViT-L/14's text tower, with the hub config's legacy special ids (pooling then takes argmax id,
    # which is the eos token in CLIP's vocab and in ours).
    "text_encoder": {
        "vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
        "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
        "projection_dim": 768, "layer_norm_eps": 1e-05, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
    },
    "scheduler": SD_SCHEDULER,
}

# openai/clip-vit-base-patch16, the CLIP score model.
_CLIP_B16: dict[str, Any] = {
    "projection_dim": 512, "logit_scale_init_value": 2.6592,
    "text_config": {
        "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12,
        "num_attention_heads": 8, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "projection_dim": 512,
        "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
    },
    "vision_config": {
        "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
        "image_size": 224, "patch_size": 16, "hidden_act": "quick_gelu", "projection_dim": 512,
    },
}


def sd15_configs() -> dict[str, dict[str, Any]]:
    """The real SD-1.5 unet / vae / text_encoder (CLIP-L text) / scheduler configs, as a fresh copy."""
    return copy.deepcopy(_SD15)


def clip_b16_config() -> dict[str, Any]:
    """A ViT-B/16-size CLIPConfig as plain kwargs (text_config and vision_config as dicts), a fresh copy."""
    return copy.deepcopy(_CLIP_B16)
