"""Random-weight stand-ins for the newer metrics' models (DINOv2, CMMD's CLIP, PickScore, HPS v2).

Tiny ones for tests and demos, full-size ones (the real architectures) for throughput benchmarks;
each saved in the format its loader reads (save_pretrained, or open_clip's local-dir layout), so
tests go through the same loading code as a user's checkpoint.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any, Callable

from transformers import CLIPConfig, Dinov2Config, Dinov2Model

from tasks.demo.tiny import _clip_folder, _ensure_built, _seeded
from tasks.demo.weights import numpy_init_, strip_version_stamps
from tasks.demo.tiny_configs import TINY_CLIP_PROJECTION, corpus_to_clip_tokenizer, special_ids, tiny_text_config

TINY_DINOV2: dict[str, Any] = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "mlp_ratio": 2,
                               "image_size": 224, "patch_size": 14}
# facebook/dinov2-large (ViT-L/14), dgm-eval's default encoder.
FULL_DINOV2: dict[str, Any] = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "mlp_ratio": 4,
                               "image_size": 518, "patch_size": 14, "layerscale_value": 1.0}
# PickScore's logit scale after training is ~100 (exp 4.6052); the tiny one starts there so scores have its range.
PICKSCORE_LOGIT_SCALE = math.log(100.0)


def _tiny_vision(image_size: int, patch_size: int) -> dict[str, Any]:
    return {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
            "image_size": image_size, "patch_size": patch_size, "projection_dim": TINY_CLIP_PROJECTION}


def _tiny_clip_config(image_size: int, patch_size: int, logit_scale: float = 2.6592) -> CLIPConfig:
    tokenizer = corpus_to_clip_tokenizer()
    return CLIPConfig(text_config=tiny_text_config(len(tokenizer), special_ids(tokenizer)),
                      vision_config=_tiny_vision(image_size, patch_size), projection_dim=TINY_CLIP_PROJECTION,
                      logit_scale_init_value=logit_scale)


# openai/clip-vit-large-patch14-336 (CMMD) and laion/CLIP-ViT-H-14 (PickScore's base), text towers included.
def full_clip_config(kind: str) -> dict[str, Any]:
    """CLIPConfig kwargs of a full-size 'l14-336' (CMMD) or 'h14' (PickScore) CLIP, a fresh copy."""
    text = {"vocab_size": 49408, "max_position_embeddings": 77, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1}
    if kind == "l14-336":
        return copy.deepcopy({
            "projection_dim": 768,
            "text_config": {**text, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                            "num_attention_heads": 12, "hidden_act": "quick_gelu", "projection_dim": 768},
            "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
                              "image_size": 336, "patch_size": 14, "hidden_act": "quick_gelu", "projection_dim": 768}})
    return copy.deepcopy({
        "projection_dim": 1024, "logit_scale_init_value": PICKSCORE_LOGIT_SCALE,
        "text_config": {**text, "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
                        "num_attention_heads": 16, "hidden_act": "gelu", "projection_dim": 1024},
        "vision_config": {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32, "num_attention_heads": 16,
                          "image_size": 224, "patch_size": 14, "hidden_act": "gelu", "projection_dim": 1024}})


def build_dinov2(out: Path, config: dict[str, Any], seed: int = 0) -> Path:
    """Write a random-weight Dinov2Model folder."""
    with _seeded(seed):
        model = numpy_init_(Dinov2Model(Dinov2Config(**config)), seed, "dinov2")
    model.save_pretrained(Path(out))
    strip_version_stamps(Path(out))
    return Path(out)


def tiny_open_clip_config() -> dict[str, Any]:
    """open_clip_config.json of a tiny ViT-H-14-shaped model: open_clip's tokenizer, so its 49408-token vocab."""
    return {"model_cfg": {"embed_dim": 16, "vision_cfg": {"image_size": 224, "layers": 2, "width": 32, "head_width": 8,
                                                          "patch_size": 14},
                          "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2}},
            "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711],
                               "interpolation": "bicubic", "resize_mode": "shortest"}}


def build_open_clip(out: Path, config: dict[str, Any] | None = None, seed: int = 0) -> Path:
    """Write an open_clip local-dir folder (open_clip_config.json + open_clip_model.safetensors); None: ViT-H-14."""
    import open_clip
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = config or {"model_cfg": open_clip.get_model_config("ViT-H-14"), "preprocess_cfg": tiny_open_clip_config()["preprocess_cfg"]}
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")
    cfg = config["model_cfg"]
    with _seeded(seed):  # the class open_clip's create_model builds for this config, without its "no weights" warnings
        model = open_clip.CLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"])
    numpy_init_(model, seed, "open_clip")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "open_clip_model.safetensors"))
    return out


_TINY_BUILDERS: dict[str, Callable[[Path], object]] = {
    "dinov2": lambda folder: build_dinov2(folder, TINY_DINOV2),
    "cmmd-clip": lambda folder: _clip_folder(folder, _tiny_clip_config(336, 14), 336, seed=1),
    "pickscore": lambda folder: _clip_folder(folder, _tiny_clip_config(224, 14, PICKSCORE_LOGIT_SCALE), 224, seed=2),
    "hpsv2": lambda folder: build_open_clip(folder, tiny_open_clip_config(), seed=3),
}
_FULL_BUILDERS: dict[str, Callable[[Path], object]] = {
    "dinov2": lambda folder: build_dinov2(folder, FULL_DINOV2),
    "cmmd-clip": lambda folder: _clip_folder(folder, CLIPConfig(**full_clip_config("l14-336")), 336, seed=1),
    "pickscore": lambda folder: _clip_folder(folder, CLIPConfig(**full_clip_config("h14")), 224, seed=2),
    "hpsv2": lambda folder: build_open_clip(folder, None, seed=3),
}
METRIC_MODEL_NAMES = tuple(_TINY_BUILDERS)


def build_metric_models(out_dir: str | Path, full: bool = False, names: tuple[str, ...] = METRIC_MODEL_NAMES) -> dict[str, Path]:
    """Build each missing stand-in (tiny, or full-size random weights) into out_dir/<name>; return {name: folder}."""
    builders = _FULL_BUILDERS if full else _TINY_BUILDERS
    out_dir = Path(out_dir).expanduser().resolve()
    return {name: _ensure_built(out_dir / name, builders[name]) for name in names}

