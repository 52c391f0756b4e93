"""The spec's `metrics:` section: which metrics a run computes, their models and settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)



class ClipScoreSpec(Frozen):
    model: str = "openai/clip-vit-base-patch16"
    batch_size: int = Field(default=32, gt=0)


class ClipDirectionalSpec(Frozen):
    model: str = "openai/clip-vit-large-patch14"
    batch_size: int = Field(default=32, gt=0)


class FidSpec(Frozen):
    pass


class KidSpec(Frozen):
    subsets: int = Field(default=100, gt=0)
    subset_size: int = Field(default=1000, ge=2)  # the unbiased MMD estimate needs 2 images per subset
    degree: int = Field(default=3, gt=0)
    gamma: float | None = None
    coef: float = 1.0


class InceptionScoreSpec(Frozen):
    splits: int = Field(default=10, gt=0)


class FdDinov2Spec(Frozen):
    model: str = "facebook/dinov2-large"  # DINOv2 ViT-L/14, dgm-eval's default encoder
    batch_size: int = Field(default=32, gt=0)


class CmmdSpec(Frozen):
    model: str = "openai/clip-vit-large-patch14-336"  # the CMMD paper's embedding model
    # biased: google-research cmmd/distance.py (full kernel means, diagonals included); unbiased: diagonals left out.
    estimator: Literal["biased", "unbiased"] = "biased"
    sigma: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=32, gt=0)


class PickScoreSpec(Frozen):
    model: str = "yuvalkirstain/PickScore_v1"
    # The PickScore repo loads its processor from the CLIP-H it was fine-tuned from; null: the model's folder.
    processor: str | None = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
    batch_size: int = Field(default=32, gt=0)


class Hpsv2Spec(Frozen):
    model: str = "xswu/HPSv2"  # a folder or hub repo with an open_clip checkpoint (HPS_v2_compressed.pt)
    arch: str = "ViT-H-14"  # open_clip architecture, used when the folder has no open_clip_config.json
    batch_size: int = Field(default=32, gt=0)


class PrdcSpec(Frozen):
    """Precision / recall (k nearest_k, Kynkaenniemi et al.) and density / coverage (k density_k, Naeem et al.)
    on the FID Inception's pool features."""

    nearest_k: int = Field(default=3, gt=0)
    density_k: int = Field(default=5, gt=0)


class PrdcDinov2Spec(PrdcSpec):
    """The same four on DINOv2 CLS features (the FD-DINOv2 extractor: one cache when the model is the same)."""

    model: str = "facebook/dinov2-large"
    batch_size: int = Field(default=32, gt=0)


class AestheticSpec(Frozen):
    """LAION's aesthetic predictor: a head (.pth state dict: v2 MLP or v1 linear) on L2-normalised CLIP image embeddings."""

    model: str = "openai/clip-vit-large-patch14"
    checkpoint: str  # e.g. sac+logos+ava1-l14-linearMSE.pth (improved-aesthetic-predictor); a path
    batch_size: int = Field(default=32, gt=0)


class TextRenderingSpec(Frozen):
    """Text in images: an OCR model reads each image of a prompt asking for text; OneIG-Bench's scores."""

    model: str = "microsoft/trocr-base-printed"
    reader: Literal["trocr"] = "trocr"  # tasks/extractors/ocr.py READERS: how the model is run
    max_new_tokens: int = Field(default=128, gt=0)
    column: str | None = None  # a prompt-file column holding the text to render; else quoted strings of the prompt
    batch_size: int = Field(default=16, gt=0)


class MetricsSpec(Frozen):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    clip_score: ClipScoreSpec | None = None
    clip_directional_similarity: ClipDirectionalSpec | None = None
    fid: FidSpec | None = None
    kid: KidSpec | None = None
    inception_score: InceptionScoreSpec | None = Field(default=None, alias="is")
    fd_dinov2: FdDinov2Spec | None = None
    cmmd: CmmdSpec | None = None
    pickscore: PickScoreSpec | None = None
    hpsv2: Hpsv2Spec | None = None
    prdc: PrdcSpec | None = None
    prdc_dinov2: PrdcDinov2Spec | None = None
    aesthetic: AestheticSpec | None = None
    text_rendering: TextRenderingSpec | None = None
    inception_weights: str | None = None
    bootstrap: int = Field(default=1000, ge=1000)
    bootstrap_seed: int = 0
    # Set metrics (FID, KID, ...) of a group other than `all` are shown only on at least this many images a side.
    min_group_images: int = Field(default=50, ge=1)
    # Plug-in metrics: modules to import (each registers its metrics) and options by metric name.
    plugins: list[str] = Field(default_factory=list)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
