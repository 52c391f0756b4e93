"""GenEval's detections: mmdet's instance post-processing by hand, masked crops, CLIP colours, the tiny
Mask2Former saved and loaded back, and the one-line error for a prompt without metadata."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from artifacts.errors import BadInput
from artifacts.keys import sha256_bytes
from tasks.demo.tiny_compositional import build_compositional_models
from tasks.extractors.clip import load_clip
from tasks.extractors.geneval import (COLOR_TEMPLATES, FIELDS, crops_to_colors, detections_of, geneval_extractor, masked_crop,
                                      outputs_to_instances)
from tasks.inputs.geneval_prompts import geneval_classnames, geneval_metadata, metadata_for
from tasks.inputs.geneval_prompts import COLORS
from tasks.models.resolve import resolve_model


@pytest.fixture(scope="module")
def detector_folder(tmp_path_factory):
    return build_compositional_models(tmp_path_factory.getbasetemp() / "compositional")["mask2former"]


def _png(seed: int, size=(96, 128)) -> tuple[str, bytes]:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return sha256_bytes(buffer.getvalue()), buffer.getvalue()


def test_shipped_metadata_and_class_names():
    table = geneval_metadata()
    assert len(table) == 553 and len(geneval_classnames()) == 80 and geneval_classnames()[0] == "person"
    assert table["a photo of three pizzas"]["include"] == [{"class": "pizza", "count": 3}]


def test_instance_postprocessing_by_hand():
    # Two queries, two classes (+ no-object); 4x4 masks already at the image size (interpolation is the identity).
    class_logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    masks = torch.full((2, 4, 4), -2.0)
    masks[0, 1:3, 0:2] = 2.0
    masks[1, 3, 3] = 1.0
    labels, scores, boxes, binary = outputs_to_instances(class_logits, masks, (4, 4), (4, 4), (4, 4), max_per_image=4)
    got = {(tuple(b.tolist()), int(label)): float(s) for label, s, b in zip(labels, scores, boxes)}
    assert len(got) == 4 and binary.shape == (4, 4, 4)
    p0 = math.exp(2) / (math.exp(2) + 2)
    p1 = math.e / (math.e + 2)
    sig2, sig1 = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(-1))
    # query 0's mask (rows 1-2, cols 0-1) -> box (0, 1, 2, 3); query 1's single pixel (3, 3) -> box (3, 3, 4, 4)
    q0, q1 = (0.0, 1.0, 2.0, 3.0), (3.0, 3.0, 4.0, 4.0)
    assert got[(q0, 0)] == pytest.approx(p0 * sig2, rel=1e-5) and got[(q0, 1)] == pytest.approx((1 - p0) / 2 * sig2, rel=1e-5)
    assert got[(q1, 1)] == pytest.approx(p1 * sig1, rel=1e-5) and got[(q1, 0)] == pytest.approx((1 - p1) / 2 * sig1, rel=1e-5)


def test_masked_crop_is_the_object_over_grey():
    image = Image.fromarray(np.full((6, 8, 3), 200, dtype=np.uint8))
    mask = np.zeros((6, 8), dtype=bool)
    mask[2:4, 3:5] = True
    crop = np.asarray(masked_crop(image, mask, np.array([2.0, 1.0, 6.0, 5.0])))
    assert crop.shape == (4, 4, 3)
    assert (crop[1:3, 1:3] == 200).all() and (crop[0] == 0x99).all()


def test_colours_as_clip_benchmark_zero_shot(tiny_models):
    ref = resolve_model(str(tiny_models["clip"]), kind="clip")
    rng = np.random.default_rng(3)
    crops = [Image.fromarray(rng.integers(0, 256, (30 + 9 * i, 40, 3), dtype=np.uint8)) for i in range(4)]
    got = crops_to_colors(ref, "cpu", crops, "dog")
    clip = load_clip(ref)
    with torch.inference_mode():  # directly: per colour mean of normalised template embeddings, renormalised
        tokens = clip.processor(text=[t.format(c=c, classname="dog") for c in COLORS for t in COLOR_TEMPLATES],
                                return_tensors="pt", padding=True)
        text = clip.model.get_text_features(**tokens)
        text = text if isinstance(text, torch.Tensor) else text.pooler_output
        text = torch.nn.functional.normalize(text.double(), dim=-1).reshape(len(COLORS), len(COLOR_TEMPLATES), -1).mean(1)
        classifier = torch.nn.functional.normalize(text, dim=-1)
        pixels = clip.processor(images=crops, return_tensors="pt")["pixel_values"]
        image = clip.model.get_image_features(pixel_values=pixels)
        image = torch.nn.functional.normalize((image if isinstance(image, torch.Tensor) else image.pooler_output).double(), dim=-1)
    assert got.tolist() == (100.0 * image @ classifier.T).argmax(1).tolist()


def test_tiny_detector_rows_and_batch_invariance(detector_folder, tiny_models):
    detector = resolve_model(str(detector_folder), kind="transformers")
    clip = resolve_model(str(tiny_models["clip"]), kind="clip")
    extractor = geneval_extractor(detector, clip, "cpu", batch_size=2, max_per_image=50)
    pngs = [_png(0), _png(1)]
    together = extractor.batch(pngs)["det"]
    assert together.shape == (2, 50 * FIELDS)
    alone = np.concatenate([extractor.batch([p])["det"] for p in pngs])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)
    labels, scores, boxes, colors = detections_of(together[0])
    assert len(labels) == 50 and labels.min() >= 0 and labels.max() < 80 and ((0 <= scores) & (scores <= 1)).all()
    assert (boxes[:, [0, 2]] <= 128).all() and (boxes[:, [1, 3]] <= 96).all()
    assert [c is not None for c in colors] == [s > 0.3 for s in scores] and any(c is not None for c in colors)
    assert extractor.fingerprint != geneval_extractor(detector, clip, "cpu", 2, 50, color_min_score=0.5).fingerprint


def test_prompt_without_metadata_is_one_line():
    with pytest.raises(BadInput) as err:
        metadata_for(["a photo of a bench", "a unicorn reading a newspaper"])
    message = str(err.value)
    assert "\n" not in message and "'a unicorn reading a newspaper'" in message and "source: geneval" in message
