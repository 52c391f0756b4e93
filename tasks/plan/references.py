"""The real images of a run's set metrics (FID, KID, IS, FD-DINOv2, CMMD), checked and kept in the store at planning."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from artifacts.errors import BadInput
from artifacts.keys import sha256_bytes
from artifacts.store import Store, ref_rel
from tasks.extractors.inception import spec_preprocess, spec_weights
from tasks.extractors.preprocess import decode_image, image_to_uint8
from tasks.inputs.references import reference_images_with_labels
from tasks.spec import EvalSpec
from tasks.values.metric import Metric, enabled_metrics


def set_metrics_of(spec: EvalSpec) -> list[Metric]:
    """The spec's enabled metrics of whole sets (FID, KID, IS, and any such plug-in)."""
    return [m for m in enabled_metrics(spec) if m.kind == "set"]


def wants_inception(spec: EvalSpec) -> bool:
    return bool(set_metrics_of(spec))


def store_references(spec: EvalSpec, store: Store) -> list[dict]:
    """Read the real images, check each decodes and survives preprocessing, keep them in refs/ by content hash."""
    weights = spec_weights(spec)
    if weights is not None and not Path(weights).is_file():
        raise BadInput(f"metrics.inception_weights {weights}: file not found; pass the FID Inception state dict "
                       "(torch-fidelity's weights-inception-2015-12-05-6726825d.pth) or remove the key to download it")
    if spec.reference is None:
        return []
    pre, rows = spec_preprocess(spec), []
    for source, data, label in reference_images_with_labels(spec.reference, spec.base_dir):
        sha = sha256_bytes(data)
        if not store.exists(ref_rel(sha)):
            image_to_uint8(decode_image(data, source), pre, source)
            store.write_bytes(ref_rel(sha), data)
        rows.append({"sha256": sha, "source": source, "label": label, "format": _format(data)})
    return rows


def _format(data: bytes) -> str:
    """The encoded format (png, jpeg, ...): FID moves with it, so it is recorded."""
    try:
        return (Image.open(io.BytesIO(data)).format or "unknown").lower()
    except Exception:  # already decoded once by decode_image; this is only a label
        return "unknown"
