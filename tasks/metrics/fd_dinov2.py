"""FD-DINOv2: the Frechet distance of Gaussians fitted to DINOv2 CLS features (Stein et al., NeurIPS 2023).

The same routine as FID (tasks/metrics/fid.py: float64 statistics, the exact n x n shortcut for small
sets), on dgm-eval's DINOv2 features (tasks/extractors/dinov2.py) instead of Inception pool features.
"""

from __future__ import annotations

from pydantic import Field

from tasks.extractors.dinov2 import dinov2_job, spec_dinov2_extractor
from tasks.metrics.fid import features_to_fid
from tasks.values.metric import SetMetric, register
from tasks.spec_metrics import Frozen
from tasks.values.names import FD_DINOV2


def set_values(spec, real: dict, fake: dict, used: dict, seed: int) -> list[tuple[str, float]]:  # noqa: ARG001
    return [(FD_DINOV2, features_to_fid(real["cls"], fake["cls"]))]


class FdDinov2Spec(Frozen):
    model: str = "facebook/dinov2-large"  # DINOv2 ViT-L/14, dgm-eval's default encoder
    batch_size: int = Field(default=32, gt=0)


METRIC = register(SetMetric(
    name=FD_DINOV2, better="lower",
    reference_test="tests/metrics/test_fd_dinov2.py::test_fd_dinov2_matches_numpy_scipy_on_the_same_features",
    jobs=lambda ctx: [dinov2_job(ctx)], score=set_values, features=spec_dinov2_extractor,
    settings=FdDinov2Spec, model_kind="dinov2", needs_reference=True, rank=60,
))
