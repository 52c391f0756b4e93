"""Random weights and config files whose bytes do not depend on the installed torch, diffusers or transformers.

torch's random init draws from its own generator, whose streams and init recipes change between releases,
and save_pretrained stamps library versions into every config: both moved the tiny models' fingerprints
(and so every pinned key) when the registry served newer releases. Here every parameter is drawn from
numpy's PCG64 generator (whose streams numpy keeps stable across versions) and the version stamps are
taken out of the saved configs, so the same code writes the same bytes on any machine.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import numpy as np
import torch

# Keys that record which library wrote a config; they change nothing that loads it.
VERSION_STAMPS = ("_diffusers_version", "transformers_version")


def numpy_init_(module: torch.nn.Module, seed: int, stream: str = "", only: str | None = None) -> torch.nn.Module:
    """Overwrite `module`'s random parameters from numpy's generator for (seed, stream); return the module.

    Parameters that torch initialises to one constant (norm weights 1, zero-initialised biases and
    projections, CLIP's logit scale) keep it: a constant is already version-proof. Every other one gets
    uniform(-b, b) with b = 1/sqrt(fan_in), torch's own default bound for linear and conv layers, drawn in
    sorted-name order so the module's registration order does not matter. `only`: just the parameters whose
    name contains it (a LoRA adapter's `lora_A`, say).
    """
    rng = np.random.default_rng([seed, zlib.crc32(stream.encode())])
    with torch.no_grad():
        for name, param in sorted(module.named_parameters(), key=lambda pair: pair[0]):
            if only is not None and only not in name:
                continue
            flat = param.detach().reshape(-1)
            if flat.numel() == 0 or bool((flat == flat[0]).all()):
                continue
            fan_in = math.prod(param.shape[1:]) if param.dim() > 1 else param.shape[0]
            bound = 1.0 / math.sqrt(fan_in)
            values = rng.uniform(-bound, bound, size=tuple(param.shape)).astype(np.float32)
            param.copy_(torch.from_numpy(values).to(param.dtype))
    return module


def _without_stamps(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_stamps(v) for k, v in value.items() if k not in VERSION_STAMPS}
    if isinstance(value, list):
        return [_without_stamps(v) for v in value]
    return value


def strip_version_stamps(folder: Path) -> None:
    """Rewrite every JSON config under `folder` without the library-version keys (loaders do not need them)."""
    for path in sorted(Path(folder).rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        clean = _without_stamps(data)
        if clean != data:
            path.write_text(json.dumps(clean, indent=2) + "\n", encoding="utf-8")
