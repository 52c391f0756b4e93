"""A pipeline held in memory (inside a training loop) as a model: a fingerprint of its weights and configs,
and the config files planning reads (model_index.json, the scheduler's), written to a scratch folder.

Same weights and configs, same fingerprint: a step evaluated twice, or weights equal to an earlier step's,
reuse their images.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def _tensor_bytes(tensor) -> bytes:
    import torch

    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()  # any dtype, bfloat16 included, as its raw bytes


def _config_json(config) -> str:
    """A component's config without version stamps or where it was loaded from."""
    items = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return json.dumps({k: v for k, v in items.items() if not k.endswith("_version") and k not in ("_name_or_path", "_commit_hash")},
                      sort_keys=True, default=str)


def pipeline_fingerprint(pipe) -> str:
    """sha256 over each component in name order: a module's state dict (names, dtypes, shapes and bytes, in
    name order) and config; the scheduler's config; a tokenizer's vocabulary."""
    import torch

    digest = hashlib.sha256(f"{type(pipe).__name__}\n".encode())
    for name, part in sorted(pipe.components.items()):
        digest.update(f"component {name} {type(part).__name__}\n".encode())
        if isinstance(part, torch.nn.Module):
            for key, tensor in sorted(part.state_dict().items()):
                digest.update(f"{key} {tensor.dtype} {tuple(tensor.shape)}\n".encode())
                digest.update(_tensor_bytes(tensor))
        if getattr(part, "config", None) is not None:
            digest.update(_config_json(part.config).encode())
        if hasattr(part, "get_vocab"):
            digest.update(json.dumps(part.get_vocab(), sort_keys=True).encode())
    return "mem:" + digest.hexdigest()[:32]


def write_pipeline_configs(pipe, folder: Path) -> Path:
    """model_index.json and scheduler/scheduler_config.json of `pipe` in `folder` (what planning reads)."""
    folder = Path(folder)
    pipe.save_config(folder)
    if getattr(pipe, "scheduler", None) is not None:
        pipe.scheduler.save_config(folder / "scheduler")
    return folder
