"""CLIP score equals torchmetrics' on the same PNGs and the same local CLIP folder (tolerance 1e-4)."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.functional.multimodal.clip_score import _clip_score_update, clip_score
from torchmetrics.multimodal.clip_score import CLIPScore
from transformers import CLIPModel, CLIPProcessor

from artifacts.keys import sha256_text
from artifacts.store import Store
from artifacts import features
from tasks.extractors.clip import clip_extractors, png_to_uint8_chw
from tasks.extractors.registry import Job, run_job
from tasks.metrics.aggregate import aggregate_samples
from tasks.metrics.clip_score import clip_scores
from tasks.models.resolve import resolve_model

TEXTS = ["a red cat on a blue sofa", "a photo of a dog", "three green circles", "a very " + "long " * 90 + "prompt"]


class WrappedClip(torch.nn.Module):
    """transformers 5 returns output objects from the feature getters; torchmetrics 1.9 wants tensors."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config

    def get_image_features(self, pixel_values):
        return self.model.get_image_features(pixel_values=pixel_values).pooler_output

    def get_text_features(self, input_ids, attention_mask):
        return self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output


@pytest.fixture(scope="module")
def reference(tiny_models):
    folder = str(tiny_models["clip"])
    return lambda: (WrappedClip(CLIPModel.from_pretrained(folder).eval()), CLIPProcessor.from_pretrained(folder))


def _pngs(n: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        pixels = rng.integers(0, 256, (48 + 8 * i, 64, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def test_per_image_and_group_values_match_torchmetrics(tmp_path, tiny_models, reference):
    store = Store(tmp_path)
    pngs = _pngs(len(TEXTS) * 2)
    images = {store.write_bytes(f"images/{i}.png", data): f"images/{i}.png" for i, data in enumerate(pngs)}
    shas = list(images)
    image, text = clip_extractors(resolve_model(str(tiny_models["clip"]), kind="clip"), "cpu", batch_size=3)
    jobs = [Job(image, images), Job(text, {sha256_text(t): t for t in TEXTS})]
    assert [run_job(store, job) for job in jobs] == [(len(pngs), 0), (len(TEXTS), 0)]
    items = [{"key": f"k{i}", "variant": "m", "condition_id": f"p{i % len(TEXTS)}", "seed": i // len(TEXTS), "sample_index": 0}
             for i in range(len(pngs))]
    text_of = {f"p{j}": t for j, t in enumerate(TEXTS)}
    values = clip_scores(features.gather(store, image.fingerprint, shas)["embed"],
                         features.gather(store, text.fingerprint, [sha256_text(text_of[i["condition_id"]]) for i in items])["embed"])
    ours = [{**item, "value": float(v)} for item, v in zip(items, values)]

    tensors = [png_to_uint8_chw(data) for data in pngs]
    model, processor = reference()
    for item, tensor, row in zip(items, tensors, ours):
        text = text_of[item["condition_id"]]
        per_sample, _ = _clip_score_update(tensor, text, model, processor)
        assert abs(row["value"] - per_sample.item()) < 1e-4
        # the functional form reports max(score, 0) for a single image
        assert abs(max(row["value"], 0.0) - clip_score(tensor, text, model_name_or_path=reference).item()) < 1e-4

    metric = CLIPScore(model_name_or_path=reference)
    for item, tensor in zip(items, tensors):
        metric.update(tensor, text_of[item["condition_id"]])
    (group,) = [r for r in aggregate_samples(ours, "clip_score", lambda c: [], clamp=True) if r["group"] == "all"]
    assert abs(group["value"] - metric.compute().item()) < 1e-4
    # the group value is the clamped mean of the per-image values (not a 0 = 0 coincidence)
    assert abs(group["value"] - max(np.mean([r["value"] for r in ours]), 0.0)) < 1e-9
    assert group["value"] > 0

    assert [run_job(store, job) for job in jobs] == [(0, len(pngs)), (0, len(TEXTS))]


def test_embeddings_do_not_depend_on_batch_size(tmp_path, tiny_models):
    from tasks.extractors.clip import images_to_clip_embeds, load_clip, texts_to_clip_embeds

    clip = load_clip(resolve_model(str(tiny_models["clip"]), kind="clip"))
    tensors = [png_to_uint8_chw(data) for data in _pngs(5)]
    assert np.allclose(images_to_clip_embeds(clip, tensors, 1), images_to_clip_embeds(clip, tensors, 5), atol=1e-5)
    assert np.allclose(texts_to_clip_embeds(clip, TEXTS, 1), texts_to_clip_embeds(clip, TEXTS, 4), atol=1e-5)
