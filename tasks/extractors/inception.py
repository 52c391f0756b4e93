"""The FID InceptionV3 (torchmetrics / torch-fidelity weights): loading, fingerprint, uint8 to features."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from artifacts.errors import BadInput
from artifacts.keys import file_sha256, key_of
from artifacts.store import ref_rel
from tasks.extractors.preprocess import Preprocess, decode_image, image_to_uint8
from tasks.extractors.registry import Extractor, Job

FEATURES_LIST = ["2048", "logits_unbiased"]
POOL_DIM = 2048
LOGITS_DIM = 1008
# torch-fidelity's default download; its name carries the sha256 prefix of the file.
DEFAULT_WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)
_FIX = (
    "pass metrics.inception_weights: PATH to the FID Inception state dict "
    "(weights-inception-2015-12-05-6726825d.pth)"
)


# How the network resizes its uint8 input to 299: torchmetrics' default (bilinear with antialiasing), or
# torch-fidelity's own (its TF1-compatible bilinear, no antialiasing; torchmetrics' antialias=False).
NETWORK_RESIZES = {"antialias": "bilinear-antialias-299", "tf1": "tf1-bilinear-no-antialias-299"}


def load_fid_inception(weights: str | None, device: str = "cpu", network_resize: str = "antialias") -> torch.nn.Module:
    """torchmetrics' NoTrainInceptionV3 with pool and unbiased-logit outputs, in eval mode on `device`."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    if weights is not None and not Path(weights).expanduser().is_file():
        raise BadInput(f"inception weights {weights}: file not found; {_FIX}")
    path = None if weights is None else str(Path(weights).expanduser())
    if path is not None:
        _check_plain_state_dict(path, weights)
    try:
        model = NoTrainInceptionV3(
            name="inception-v3-compat", features_list=list(FEATURES_LIST), feature_extractor_weights_path=path,
            antialias=network_resize == "antialias",
        )
    except Exception as exc:  # download errors (URLError, HTTPError, OSError) or a wrong/corrupt state dict
        if weights is None:
            raise BadInput(f"inception weights: not available offline ({type(exc).__name__}); {_FIX}") from None
        raise BadInput(
            f"inception weights {weights}: not an FID Inception state dict ({type(exc).__name__}); {_FIX}"
        ) from None
    return model.to(device)


def _check_plain_state_dict(path: str, weights: str) -> None:
    """Refuse pickles that carry code: torch-fidelity itself loads with weights_only=False."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BadInput(
            f"inception weights {weights}: not a plain state dict ({type(exc).__name__}); {_FIX}"
        ) from None
    if not isinstance(state, dict):
        raise BadInput(f"inception weights {weights}: not a state dict ({type(state).__name__}); {_FIX}")


def weights_sha256(weights: str) -> str:
    """sha256 of a weights file, computed once per (path, size, mtime) in this process."""
    try:
        return file_sha256(weights)
    except OSError:
        raise BadInput(f"inception weights {weights}: file not found; {_FIX}") from None


def inception_fingerprint(weights: str | None, pre: Preprocess, network_resize: str = "antialias") -> str:
    """Short stable name of (weights content, layers, preprocessing, precision): the feature folder name."""
    identity = f"url:{DEFAULT_WEIGHTS_URL}" if weights is None else f"sha256:{weights_sha256(weights)}"
    described = {
        "extractor": "torchmetrics-NoTrainInceptionV3",
        "weights": identity,
        "layers": list(FEATURES_LIST),
        # The network's own resize of uint8 input to 299 (torchmetrics' default antialias=True).
        "network_resize": NETWORK_RESIZES[network_resize],
        "preprocess": pre.fingerprint(),
        "precision": "float32",
    }
    return "inception-" + key_of(described)[:16]


def uint8_to_inception_features(
    model: torch.nn.Module, batch: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """NHWC or NCHW uint8 images to (pool [N,2048], logits_unbiased [N,1008]) float32, as torchmetrics feeds them."""
    if list(getattr(model, "features_list", [])) != FEATURES_LIST:
        raise ValueError(f"expected a model from load_fid_inception with features {FEATURES_LIST}")
    x = torch.from_numpy(np.array(batch)) if isinstance(batch, np.ndarray) else torch.as_tensor(batch)
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise ValueError(f"expected a 4-d uint8 batch of images, got {tuple(x.shape)} {x.dtype}")
    if x.shape[0] == 0:
        return np.zeros((0, POOL_DIM), np.float32), np.zeros((0, LOGITS_DIM), np.float32)
    # Channels-last is what image_to_uint8 returns; it wins when both axes could be channels.
    if x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2)
    elif x.shape[1] != 3:
        raise ValueError(f"expected 3 RGB channels in NHWC or NCHW, got shape {tuple(x.shape)}")
    device = next(model.parameters()).device
    with torch.inference_mode():
        # _torch_fidelity_forward returns every requested layer; forward() keeps only the first.
        pool, logits = model._torch_fidelity_forward(x.contiguous().to(device))
    return pool.float().cpu().numpy(), logits.float().cpu().numpy()



@functools.cache
def cached_inception(weights: str | None, device: str, network_resize: str = "antialias") -> torch.nn.Module:
    """The FID Inception loaded once per process, and only when some feature is actually missing."""
    return load_fid_inception(weights, device, network_resize)


def inception_extractor(weights: str | None, pre: Preprocess, device: str, sources: dict[str, str],
                        batch_size: int = 32, network_resize: str = "antialias") -> Extractor:
    """Images → {"pool", "logits"}; an image the `skip` rule drops gets a NaN row (remembered, not retried).

    sources: content sha256 -> the name an error message gives the image (its file or row).
    """

    def batch(pairs: list[tuple[str, bytes]]) -> dict[str, np.ndarray]:
        arrays = [image_to_uint8(decode_image(data, sources.get(sha, sha)), pre, sources.get(sha, sha)) for sha, data in pairs]
        pool = np.full((len(pairs), POOL_DIM), np.nan, np.float32)
        logits = np.full((len(pairs), LOGITS_DIM), np.nan, np.float32)
        by_shape: dict[tuple, list[int]] = {}
        for i, arr in enumerate(arrays):
            if arr is not None:
                by_shape.setdefault(arr.shape, []).append(i)
        for idx in by_shape.values():
            p, lg = uint8_to_inception_features(cached_inception(weights, device, network_resize), np.stack([arrays[i] for i in idx]))
            pool[idx], logits[idx] = p, lg
        return {"pool": pool, "logits": logits}

    return Extractor("inception", inception_fingerprint(weights, pre, network_resize), "images", batch, batch_size)


def spec_weights(spec) -> str | None:
    """The spec's FID Inception weights file (resolved against its folder), or None for the default download."""
    return spec.resolve_path(spec.metrics.inception_weights) if spec.metrics.inception_weights else None


def spec_preprocess(spec) -> Preprocess:
    """The preprocessing the spec's reference section names (the same for real and generated images)."""
    return Preprocess.from_spec(spec.reference) if spec.reference is not None else Preprocess(center_crop=None)


def inception_job(ctx) -> Job:
    """The FID Inception over the run's reference images and every generated image (FID, KID and IS share it)."""
    refs = ctx.prepared.references
    extractor = inception_extractor(spec_weights(ctx.spec), spec_preprocess(ctx.spec), ctx.device, {r["sha256"]: r["source"] for r in refs},
                                    network_resize=ctx.spec.metrics.inception_resize)
    return Job(extractor, {**{r["sha256"]: ref_rel(r["sha256"]) for r in refs}, **ctx.generated_images()})
