"""Edit metrics on CLIP embeddings: directional similarity and image consistency.

The math takes arrays; the two registry entries at the end say what they read: the source and
edited images and the input and output captions, embedded by the spec's directional CLIP model.
"""

from __future__ import annotations

import numpy as np

from pydantic import Field

from artifacts.keys import sha256_text
from artifacts.store import ref_rel
from tasks.extractors.clip import clip_extractors
from tasks.extractors.registry import Extractor, Job
from tasks.values.metric import SampleMetric, register
from tasks.spec_metrics import Frozen
from tasks.values.names import CLIP_CONSISTENCY, CLIP_DIRECTIONAL

# torch.nn.functional.cosine_similarity's default eps: the guide's code path clamps tiny norms with it.
COSINE_EPS = 1e-8


def _unit_rows(vectors: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"{name}: expected a [N, D] array of embeddings, got shape {v.shape}")
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _same_shape(**arrays: np.ndarray) -> None:
    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"embedding arrays must have one shape [N, D]; got {shapes}")


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cos(a, b) as torch's cosine_similarity: a zero-length row gives 0, not NaN."""
    norm_a = np.maximum(np.linalg.norm(a, axis=-1), COSINE_EPS)
    norm_b = np.maximum(np.linalg.norm(b, axis=-1), COSINE_EPS)
    return np.sum(a * b, axis=-1) / (norm_a * norm_b)


def directional_similarity(src_img: np.ndarray, edit_img: np.ndarray, src_txt: np.ndarray, out_txt: np.ndarray) -> np.ndarray:
    """Per pair cos(E_img(edited) - E_img(source), E_txt(output) - E_txt(input)) on L2-normalized embeddings.

    An unchanged image (or input caption == output caption) has no direction; it scores 0, which is
    what the diffusers guide's torch.nn.functional.cosine_similarity returns for a zero vector.
    """
    src_img, edit_img = _unit_rows(src_img, "src_img"), _unit_rows(edit_img, "edit_img")
    src_txt, out_txt = _unit_rows(src_txt, "src_txt"), _unit_rows(out_txt, "out_txt")
    _same_shape(src_img=src_img, edit_img=edit_img)
    _same_shape(src_txt=src_txt, out_txt=out_txt)
    if src_img.shape[0] != src_txt.shape[0]:
        raise ValueError(f"{src_img.shape[0]} image pairs but {src_txt.shape[0]} caption pairs")
    return _cosine(edit_img - src_img, out_txt - src_txt)


def image_consistency(src_img: np.ndarray, edit_img: np.ndarray) -> np.ndarray:
    """Per pair cos(E_img(source), E_img(edited)): how much of the source survives the edit."""
    src_img, edit_img = _unit_rows(src_img, "src_img"), _unit_rows(edit_img, "edit_img")
    _same_shape(src_img=src_img, edit_img=edit_img)
    return np.sum(src_img * edit_img, axis=-1)


# The guide's DirectionalSimilarity lets the tokenizer truncate long captions (EOS kept).
TRUNCATE = "tokenizer"


def _extractors(ctx) -> tuple[Extractor, Extractor]:
    cfg = ctx.spec.metrics.clip_directional_similarity
    return clip_extractors(ctx.prepared.metric_models[CLIP_DIRECTIONAL], ctx.device, cfg.batch_size, TRUNCATE)


def jobs(ctx) -> list[Job]:
    """Source and edited images; input and output captions."""
    image, text = _extractors(ctx)
    sources = {c.meta["source_sha256"]: ref_rel(c.meta["source_sha256"]) for c in ctx.conditions}
    captions = [c.meta[k] for c in ctx.conditions for k in ("input", "output")]
    return [Job(image, {**sources, **ctx.generated_images()}), Job(text, {sha256_text(t): t for t in captions})]


def _images(ctx, image: Extractor) -> tuple[np.ndarray, np.ndarray]:
    """(source, edited) image embeddings, rows in item order."""
    sources = ctx.gather(image, [ctx.condition(i).meta["source_sha256"] for i in ctx.items])["embed"]
    return sources, ctx.item_features(image)["embed"]


def directional_score(ctx) -> np.ndarray:
    image, text = _extractors(ctx)
    captions = {k: ctx.gather(text, [sha256_text(ctx.condition(i).meta[k]) for i in ctx.items])["embed"] for k in ("input", "output")}
    return directional_similarity(*_images(ctx, image), captions["input"], captions["output"])


def consistency_score(ctx) -> np.ndarray:
    return image_consistency(*_images(ctx, _extractors(ctx)[0]))


class ClipDirectionalSpec(Frozen):
    model: str = "openai/clip-vit-large-patch14"
    batch_size: int = Field(default=32, gt=0)


def _enabled(spec) -> bool:
    return spec.metrics.clip_directional_similarity is not None


DIRECTIONAL = register(SampleMetric(
    name=CLIP_DIRECTIONAL, better="higher", aggregate="mean",
    reference_test="tests/metrics/test_edit_metrics.py::test_directional_similarity_matches_the_guide",
    jobs=jobs, score=directional_score, settings=ClipDirectionalSpec, model_kind="clip", rank=20,
))
# Image consistency comes with directional similarity: the same section, the same embeddings.
CONSISTENCY = register(SampleMetric(
    name=CLIP_CONSISTENCY, better="higher", aggregate="mean",
    reference_test="tests/metrics/test_edit_metrics.py::test_image_consistency_is_the_cosine_of_the_image_embeddings",
    jobs=jobs, score=consistency_score, enabled=_enabled, rank=21,
))
