"""The FID InceptionV3 (torchmetrics / torch-fidelity weights): loading, fingerprint, uint8 to features."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from artifacts.errors import BadInput
from artifacts.keys import key_of
from tasks.extractors.preprocess import Preprocess

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

# (resolved path, size, mtime_ns) -> sha256, so a 90 MB weights file is hashed once per process.
_weights_sha256: dict[tuple[str, int, int], str] = {}


def load_fid_inception(weights: str | None, device: str = "cpu") -> torch.nn.Module:
    """torchmetrics' NoTrainInceptionV3 with pool and unbiased-logit outputs, in eval mode on `device`."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    if weights is not None and not Path(weights).expanduser().is_file():
        raise BadInput(f"inception weights {weights}: file not found; {_FIX}")
    path = None if weights is None else str(Path(weights).expanduser())
    if path is not None:
        _check_plain_state_dict(path, weights)
    try:
        model = NoTrainInceptionV3(
            name="inception-v3-compat", features_list=list(FEATURES_LIST), feature_extractor_weights_path=path
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
    path = Path(weights).expanduser()
    try:
        stat = path.stat()
    except OSError:
        raise BadInput(f"inception weights {weights}: file not found; {_FIX}") from None
    cache_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if cache_key not in _weights_sha256:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _weights_sha256[cache_key] = digest.hexdigest()
    return _weights_sha256[cache_key]


def inception_fingerprint(weights: str | None, pre: Preprocess) -> str:
    """Short stable name of (weights content, layers, preprocessing, precision): the feature folder name."""
    identity = f"url:{DEFAULT_WEIGHTS_URL}" if weights is None else f"sha256:{weights_sha256(weights)}"
    described = {
        "extractor": "torchmetrics-NoTrainInceptionV3",
        "weights": identity,
        "layers": list(FEATURES_LIST),
        # The network's own resize of uint8 input to 299 (torchmetrics' default antialias=True).
        "network_resize": "bilinear-antialias-299",
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

