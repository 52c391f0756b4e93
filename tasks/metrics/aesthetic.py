"""Aesthetic score: LAION's aesthetic predictor head on L2-normalised CLIP ViT-L/14 image embeddings.

As improved-aesthetic-predictor's simple_inference.py: embedding = clip encode_image (cached by
tasks/extractors/aesthetic_clip.py), normalised with numpy's L2 norm (a zero norm left as 1), then the
head in float32. The head is the checkpoint's state dict: the v2 MLP (Linear d->1024->128->64->16->1,
the Dropouts identity in eval and no activations: layers.0/2/4/6/7) or the v1 linear model (one
Linear d->1: weight, bias). They give different numbers, so the row's name says which
(`aesthetic_mlp` / `aesthetic_linear`) and the report names the checkpoint file and its sha256.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import torch

from artifacts.errors import BadInput
from artifacts.keys import file_sha256
from artifacts import features as cache
from tasks.extractors.aesthetic_clip import aesthetic_clip_extractor
from pydantic import Field

from tasks.spec_metrics import Frozen
from tasks.values.metric import SampleMetric, register
from tasks.values.names import AESTHETIC

MLP_LAYERS = ("layers.0", "layers.2", "layers.4", "layers.6", "layers.7")  # improved-aesthetic-predictor's MLP
KINDS = {"mlp": "v2 MLP (improved-aesthetic-predictor)", "linear": "v1 linear (LAION-Aesthetics)"}


def load_head(path: str) -> tuple[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """(kind, [(weight, bias), ...]) of a .pth head state dict; anything else is one BadInput line."""
    if not Path(path).is_file():
        raise BadInput(f"metrics.aesthetic.checkpoint {path}: file not found; pass the head's .pth state dict "
                       "(e.g. sac+logos+ava1-l14-linearMSE.pth)")
    stat = Path(path).stat()
    return _load_head(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load_head(path: str, size: int, mtime_ns: int) -> tuple[str, list[tuple[torch.Tensor, torch.Tensor]]]:  # noqa: ARG001 (cache key)
    who = f"metrics.aesthetic.checkpoint {path}"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a state dict
        raise BadInput(f"{who}: not a torch state dict ({type(exc).__name__}); pass the head's .pth file") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    keys = set(state) if isinstance(state, dict) else set()
    if keys == {"weight", "bias"}:
        return "linear", [(state["weight"].float(), state["bias"].float())]
    if keys == {f"{layer}.{p}" for layer in MLP_LAYERS for p in ("weight", "bias")}:
        return "mlp", [(state[f"{layer}.weight"].float(), state[f"{layer}.bias"].float()) for layer in MLP_LAYERS]
    found = ", ".join(sorted(keys, key=lambda k: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", k)])[:6])
    raise BadInput(f"{who}: neither the v2 MLP ({', '.join(MLP_LAYERS)}) nor the v1 linear head (weight, bias) "
                   f"(found: {found or 'nothing'}); pass an aesthetic predictor checkpoint")


def normalized(a: np.ndarray) -> np.ndarray:
    """Rows over their L2 norm, a zero norm left as 1 (simple_inference's `normalized`)."""
    norms = np.atleast_1d(np.linalg.norm(a, 2, -1))
    norms[norms == 0] = 1
    return a / np.expand_dims(norms, -1)


@torch.inference_mode()
def embeds_to_aesthetic(embeds: np.ndarray, head: list[tuple[torch.Tensor, torch.Tensor]]) -> np.ndarray:
    """Raw CLIP image embeddings [N, D] -> aesthetic scores [N] (normalise, then the head's linear layers)."""
    x = torch.from_numpy(normalized(np.asarray(embeds, np.float32))).float()
    for weight, bias in head:
        x = torch.nn.functional.linear(x, weight, bias)
    return x[:, 0].numpy().astype(np.float64)


def checkpoint_of(spec) -> str:
    return spec.resolve_path(spec.metrics.aesthetic.checkpoint)


def head_kind(spec) -> str | None:
    """'mlp' or 'linear' when the spec asks for the aesthetic score (its checkpoint checked), else None."""
    return None if spec.metrics.aesthetic is None else load_head(checkpoint_of(spec))[0]


def _extractor(ctx):
    return aesthetic_clip_extractor(ctx.prepared.metric_models[AESTHETIC], ctx.device, ctx.spec.metrics.aesthetic.batch_size)


def score(ctx) -> np.ndarray:
    """Per item: the head on its image's cached, normalised embedding."""
    shas = [ctx.image_sha[i.key] for i in ctx.items]
    embeds = cache.gather(ctx.store, _extractor(ctx).fingerprint, shas)["embed"]
    return embeds_to_aesthetic(embeds, load_head(checkpoint_of(ctx.spec))[1])


def checkpoint_record(spec) -> dict:
    """What the report says about the head: file, sha256, kind."""
    path = checkpoint_of(spec)
    kind = load_head(path)[0]
    return {"metric": f"{AESTHETIC}_{kind}", "checkpoint": Path(path).name, "sha256": file_sha256(Path(path))[:16], "head": KINDS[kind]}


class AestheticSpec(Frozen):
    """LAION's aesthetic predictor: a head (.pth state dict: v2 MLP or v1 linear) on L2-normalised CLIP image embeddings."""

    model: str = "openai/clip-vit-large-patch14"
    checkpoint: str  # e.g. sac+logos+ava1-l14-linearMSE.pth (improved-aesthetic-predictor); a path
    batch_size: int = Field(default=32, gt=0)


# One row name per head, so v1 and v2 numbers are never mixed; both read the spec's `metrics.aesthetic:`.
METRICS = [register(SampleMetric(
    name=f"{AESTHETIC}_{kind}", better="higher", aggregate="mean",
    reference_test="tests/metrics/test_aesthetic.py::test_aesthetic_equals_simple_inference",
    jobs=lambda ctx: [ctx.image_job(_extractor(ctx))], score=score, settings=AestheticSpec, spec_key=AESTHETIC,
    model_kind="clip", enabled=lambda spec, kind=kind: head_kind(spec) == kind, rank=140 + i,
)) for i, kind in enumerate(KINDS)]
