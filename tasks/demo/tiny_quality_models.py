"""Random-weight stand-ins for the aesthetic predictor (a CLIP + its heads) and the OCR model (TrOCR).

Saved in the formats their loaders read: a CLIPModel folder (save_pretrained), the heads as .pth state
dicts with improved-aesthetic-predictor's key names (weights from a seeded numpy generator, so their
bytes do not depend on torch's init), and a VisionEncoderDecoderModel + TrOCRProcessor folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from tasks.demo.tiny import _ensure_built, _seeded
from tasks.demo.weights import numpy_init_, strip_version_stamps
from tasks.demo.tiny_configs import TINY_CLIP_PROJECTION, corpus_to_clip_tokenizer
from tasks.demo.tiny_metric_models import _tiny_clip_config
from tasks.metrics.aesthetic import MLP_LAYERS

MLP_WIDTHS = (1024, 128, 64, 16, 1)  # improved-aesthetic-predictor's MLP after the embedding
HEAD_FILES = {"mlp": "aesthetic-mlp.pth", "linear": "aesthetic-linear.pth"}


def head_state(kind: str, dim: int, seed: int = 0, widths: tuple[int, ...] = MLP_WIDTHS) -> dict[str, torch.Tensor]:
    """A random head state dict: `mlp` (layers.0/2/4/6/7) or `linear` (weight, bias), scaled like nn.Linear's init."""
    rng = np.random.default_rng(seed)
    sizes = [dim, *widths] if kind == "mlp" else [dim, 1]
    names = MLP_LAYERS if kind == "mlp" else ("",)
    state = {}
    for name, (n_in, n_out) in zip(names, zip(sizes, sizes[1:])):
        bound = 1.0 / np.sqrt(n_in)
        prefix = f"{name}." if name else ""
        state[prefix + "weight"] = torch.from_numpy(rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32))
        state[prefix + "bias"] = torch.from_numpy(rng.uniform(-bound, bound, (n_out,)).astype(np.float32))
    return state


def build_aesthetic_clip(out: Path, seed: int = 4) -> Path:
    """A CLIP folder at 224 px with ViT-L/14's patch size (the heads live apart: the folder's fingerprint stays)."""
    from tasks.demo.tiny import _clip_folder

    return _clip_folder(Path(out), _tiny_clip_config(224, 14), 224, seed=seed)


def build_aesthetic_heads(out: Path, seed: int = 6) -> Path:
    """Both heads (v2 MLP, v1 linear) for the tiny CLIP's embedding width, as .pth state dicts."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for i, (kind, name) in enumerate(HEAD_FILES.items()):
        torch.save(head_state(kind, TINY_CLIP_PROJECTION, seed + i), out / name)
    return out


def build_trocr(out: Path, seed: int = 5, image_size: int = 64) -> Path:
    """A tiny VisionEncoderDecoderModel (ViT encoder, TrOCR decoder) + TrOCRProcessor (our BPE tokenizer)."""
    from transformers import (TrOCRConfig, TrOCRForCausalLM, TrOCRProcessor, ViTConfig, ViTImageProcessor, ViTModel,
                              VisionEncoderDecoderModel)

    tokenizer = corpus_to_clip_tokenizer()
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    encoder = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        image_size=image_size, patch_size=16)
    decoder = TrOCRConfig(vocab_size=len(tokenizer), d_model=32, decoder_layers=2, decoder_attention_heads=4,
                          decoder_ffn_dim=64, max_position_embeddings=64, decoder_start_token_id=ids["bos_token_id"], **ids)
    with _seeded(seed):
        model = numpy_init_(VisionEncoderDecoderModel(encoder=ViTModel(encoder, add_pooling_layer=False),
                                                      decoder=TrOCRForCausalLM(decoder)), seed, "trocr")
    with torch.no_grad():  # specials never win greedy decoding, so the random reader reads max_new_tokens tokens of text
        for i in set(ids.values()):
            model.decoder.output_projection.weight[i] = 0.0
    model.config.decoder_start_token_id = ids["bos_token_id"]
    model.config.pad_token_id, model.config.eos_token_id = ids["pad_token_id"], ids["eos_token_id"]
    model.generation_config.decoder_start_token_id = ids["bos_token_id"]
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = ids["pad_token_id"], ids["eos_token_id"]
    processor = TrOCRProcessor(image_processor=ViTImageProcessor(size={"height": image_size, "width": image_size}), tokenizer=tokenizer)
    out = Path(out)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    strip_version_stamps(out)
    return out


_BUILDERS: dict[str, Callable[[Path], object]] = {"aesthetic-clip": build_aesthetic_clip, "aesthetic-heads": build_aesthetic_heads,
                                               "trocr": build_trocr}
QUALITY_MODEL_NAMES = tuple(_BUILDERS)


def build_quality_models(out_dir: str | Path, names: tuple[str, ...] = QUALITY_MODEL_NAMES) -> dict[str, Path]:
    """Build each missing stand-in into out_dir/<name>; return {name: folder}."""
    out_dir = Path(out_dir).expanduser().resolve()
    return {name: _ensure_built(out_dir / name, _BUILDERS[name]) for name in names}
