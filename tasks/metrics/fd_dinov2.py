"""FD-DINOv2: the Frechet distance of Gaussians fitted to DINOv2 CLS features (Stein et al., NeurIPS 2023).

The same routine as FID (tasks/metrics/fid.py: float64 statistics, the exact n x n shortcut for small
sets), on dgm-eval's DINOv2 features (tasks/extractors/dinov2.py) instead of Inception pool features.
"""

from __future__ import annotations

from tasks.extractors.dinov2 import dinov2_job, spec_dinov2_extractor
from tasks.metrics.fid import features_to_fid
from tasks.values.metric import Metric, register
from tasks.values.names import FD_DINOV2


def set_values(spec, real: dict, fake: dict, used: dict, seed: int) -> list[tuple[str, float]]:  # noqa: ARG001
    return [(FD_DINOV2, features_to_fid(real["cls"], fake["cls"]))]


METRIC = register(Metric(
    FD_DINOV2, "set", "lower", "set",
    "tests/metrics/test_fd_dinov2.py::test_fd_dinov2_matches_numpy_scipy_on_the_same_features",
    lambda ctx: [dinov2_job(ctx)], set_values, enabled=lambda spec: spec.metrics.fd_dinov2 is not None,
    features=spec_dinov2_extractor,
))
