"""Tiny training-run folders in the layouts diffusers' training scripts write, for tests and the demo.

Each step's weights are the tiny SD's, moved along one seeded direction by an amount that grows with the
step (a stand-in for training: meaningless images, distinct and reproducible weights per step).
- `unet`: `checkpoint-<step>/unet/` (save_pretrained) beside accelerate's optimizer.bin, scheduler.bin and
  random_states_0.pkl, as train_text_to_image.py's save_state hook leaves them;
- `lora`: `checkpoint-<step>/pytorch_lora_weights.safetensors` (save_lora_weights of the peft adapter's
  state dict in diffusers' naming), as train_text_to_image_lora.py writes it;
- `pipeline`: `checkpoint-<step>/` a whole pipeline (save_pretrained).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tasks.demo.tiny import _save_sd_pipeline, build_tiny_sd
from tasks.demo.weights import numpy_init_, strip_version_stamps

LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]  # train_text_to_image_lora.py's target_modules
ACCELERATE_STATE = ("optimizer.bin", "scheduler.bin", "random_states_0.pkl")


def _nudge(module: torch.nn.Module, amount: float, seed: int, only: str | None = None) -> None:
    """Add `amount` x a seeded unit-variance direction to every parameter (whose name contains `only`)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if only is None or only in name:
                param.add_(torch.from_numpy(rng.standard_normal(tuple(param.shape)).astype(np.float32)) * amount)


def _accelerate_state(folder: Path, step: int) -> None:
    """Placeholders of what save_state writes beside the weights (never read, never fingerprinted)."""
    for name in ACCELERATE_STATE:
        (folder / name).write_bytes(f"not weights: step {step}\n".encode())


def build_tiny_checkpoints(out: Path, base: Path, kind: str = "unet", steps=(100, 200, 300), scale: float = 0.02) -> Path:
    """Write `out/checkpoint-<step>` for each step in the `kind` layout, from the tiny SD at `base`."""
    from diffusers import StableDiffusionPipeline

    from tasks.models.resolve import quiet_libraries

    quiet_libraries()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for step in steps:
        pipe = StableDiffusionPipeline.from_pretrained(base)
        folder = out / f"checkpoint-{step}"
        folder.mkdir(exist_ok=True)
        if kind == "lora":
            _lora_step(pipe, folder, step * scale / 100)
        else:
            _nudge(pipe.unet, step * scale / 100, seed=1)
            if kind == "pipeline":
                _save_sd_pipeline(pipe, folder)
            else:
                pipe.unet.save_pretrained(folder / "unet", safe_serialization=True)
                strip_version_stamps(folder / "unet")
        _accelerate_state(folder, step)
    return out


def _lora_step(pipe, folder: Path, amount: float) -> None:
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=LORA_TARGETS))
    numpy_init_(pipe.unet, 0, "lora", only="lora_A")  # torch's gaussian draw is not the same on every release
    _nudge(pipe.unet, amount * 20, seed=2, only="lora_B")  # gaussian init leaves B at 0: no effect until trained
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    type(pipe).save_lora_weights(save_directory=folder, unet_lora_layers=layers, safe_serialization=True)


def build_tiny_run(out: Path, kind: str = "unet", steps=(100, 200, 300)) -> dict[str, Path]:
    """A tiny base SD (`out/base`) and a training run's folder of `kind` checkpoints (`out/run`)."""
    base = Path(out) / "base"
    if not (base / "model_index.json").is_file():
        build_tiny_sd(base, seed=0)
    return {"base": base, "run": build_tiny_checkpoints(Path(out) / "run", base, kind, steps)}
