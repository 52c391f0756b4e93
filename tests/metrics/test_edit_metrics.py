"""Directional similarity and image consistency against the diffusers guide's own computation.

The reference below re-does the guide's `DirectionalSimilarity` ("Evaluating Diffusion Models") with its
own CLIPTokenizer / CLIPImageProcessor / CLIP*WithProjection calls, on a tiny random-weight CLIP folder
built here; our path goes through tasks/extractors/clip.py and tasks/metrics/directional.py.
"""

from __future__ import annotations

import io
import string

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tasks.extractors.clip import images_to_clip_embeds, load_clip, texts_to_clip_embeds
from tasks.metrics.directional import directional_similarity, image_consistency
from tasks.inputs.edits import builtin_edits
from tasks.models.resolve import resolve_model

CONTEXT = 77  # as the real CLIP text towers: every builtin caption fits
MERGES = [("t", "h"), ("th", "e</w>"), ("o", "n</w>"), ("i", "r"), ("c", "ir"), ("cir", "c"), ("l", "e</w>"),
          ("circ", "le</w>"), ("a", "n</w>"), ("u", "e</w>"), ("bl", "ue</w>"), ("b", "l")]


def tiny_tokenizer():
    """A real BPE vocabulary: every letter (mid-word and word-final) plus a few merges; specials last."""
    from transformers import CLIPTokenizer

    letters = string.ascii_lowercase
    tokens = [*letters, *(c + "</w>" for c in letters), *("".join(m) for m in MERGES)]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    # transformers 5's CLIPTokenizer takes the vocab itself (vocab_file= would be silently ignored).
    return CLIPTokenizer(vocab=vocab, merges=list(MERGES), model_max_length=CONTEXT)


@pytest.fixture(scope="session", params=["first-eos", "legacy-argmax"])
def clip_dir(request, tmp_path_factory) -> str:
    """A tiny CLIPModel + tokenizer + image processor folder; both EOS pooling modes of CLIP's text tower.

    "legacy-argmax" is how the openai checkpoints' configs (eos_token_id=2) pool: argmax of input_ids.
    """
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = tiny_tokenizer()
    eos = tokenizer.eos_token_id if request.param == "first-eos" else 2
    torch.manual_seed(0)
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=CONTEXT, projection_dim=16, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                  num_attention_heads=4, projection_dim=16)
    folder = tmp_path_factory.mktemp(f"clip-{request.param}")
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(folder)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(folder)
    return str(folder)


class GuideDirectionalSimilarity:
    """The guide's DirectionalSimilarity, call for call (device fixed to CPU)."""

    def __init__(self, clip_id: str):
        from transformers import CLIPImageProcessor, CLIPTextModelWithProjection, CLIPTokenizer, CLIPVisionModelWithProjection

        self.tokenizer = CLIPTokenizer.from_pretrained(clip_id)
        self.text_encoder = CLIPTextModelWithProjection.from_pretrained(clip_id).eval()
        self.image_processor = CLIPImageProcessor.from_pretrained(clip_id)
        self.image_encoder = CLIPVisionModelWithProjection.from_pretrained(clip_id).eval()

    def preprocess_image(self, image):
        return {"pixel_values": self.image_processor(image, return_tensors="pt")["pixel_values"]}

    def tokenize_text(self, text):
        inputs = self.tokenizer(text, max_length=self.tokenizer.model_max_length, padding="max_length", truncation=True, return_tensors="pt")
        return {"input_ids": inputs.input_ids}

    def encode_image(self, image):
        features = self.image_encoder(**self.preprocess_image(image)).image_embeds
        return features / features.norm(dim=1, keepdim=True)

    def encode_text(self, text):
        features = self.text_encoder(**self.tokenize_text(text)).text_embeds
        return features / features.norm(dim=1, keepdim=True)

    @torch.no_grad()
    def __call__(self, image_one, image_two, caption_one, caption_two):
        img_one, img_two = self.encode_image(image_one), self.encode_image(image_two)
        text_one, text_two = self.encode_text(caption_one), self.encode_text(caption_two)
        return F.cosine_similarity(img_two - img_one, text_two - text_one)


@pytest.fixture(scope="session")
def pairs():
    """Builtin sources and stand-in edits (inverted; flipped and resized to a non-square size)."""
    rows = builtin_edits()
    sources = [Image.open(io.BytesIO(r["image_bytes"])).convert("RGB") for r in rows]
    edited = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((80, 48)) if i % 2 else Image.fromarray(255 - np.asarray(im))
              for i, im in enumerate(sources)]
    return sources, edited, [r["input"] for r in rows], [r["output"] for r in rows]


def chw(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()


def ours(clip_dir: str, sources, edited, inputs, outputs) -> tuple[np.ndarray, ...]:
    """(source image, edited image, input text, output text) embeddings through tasks/extractors/clip.py."""
    clip = load_clip(resolve_model(clip_dir, kind="clip"))
    return (images_to_clip_embeds(clip, [chw(x) for x in sources]), images_to_clip_embeds(clip, [chw(x) for x in edited]),
            texts_to_clip_embeds(clip, inputs, truncate="tokenizer"), texts_to_clip_embeds(clip, outputs, truncate="tokenizer"))


def test_tiny_tokenizer_gives_real_tokens(clip_dir, pairs):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(clip_dir)
    for caption in pairs[2] + pairs[3]:
        ids = tokenizer(caption).input_ids
        # unk is <|endoftext|> in CLIP: an unknown piece would show up as an early EOS.
        assert ids[0] == tokenizer.bos_token_id and ids.index(tokenizer.eos_token_id) == len(ids) - 1
        assert len(ids) <= CONTEXT and tokenizer.decode(ids, skip_special_tokens=True) == caption
    assert tokenizer.convert_ids_to_tokens(tokenizer("the circle").input_ids)[1:3] == ["the</w>", "circle</w>"]


def test_max_length_padding_equals_dynamic_padding(clip_dir, pairs):
    """The guide pads to 77 without a mask, tasks/extractors/clip.py pads to the longest with one: same embeddings.

    CLIP's text tower is causal and pools the first EOS, so tokens after it (the padding) never reach the
    pooled state; only float noise from the different sequence lengths remains.
    """
    guide = GuideDirectionalSimilarity(clip_dir)
    captions = pairs[2] + pairs[3]
    with torch.no_grad():
        padded = guide.text_encoder(**guide.tokenize_text(captions)).text_embeds
        dynamic = guide.text_encoder(**guide.tokenizer(captions, padding=True, return_tensors="pt")).text_embeds
        ids = guide.tokenize_text(captions)["input_ids"].clone()
        after_eos = torch.arange(ids.shape[1]) > (ids == guide.tokenizer.eos_token_id).int().argmax(-1, keepdim=True)
        scrambled = guide.text_encoder(input_ids=torch.where(after_eos, torch.randint(0, 26, ids.shape), ids)).text_embeds
    assert torch.allclose(padded, dynamic, atol=1e-5)
    assert torch.allclose(padded, scrambled, atol=1e-5)  # what follows EOS is invisible: the causal mask


def test_directional_similarity_matches_the_guide(clip_dir, pairs):
    reference = GuideDirectionalSimilarity(clip_dir)(*pairs).numpy()
    values = directional_similarity(*ours(clip_dir, *pairs))
    assert values.shape == (8,) and np.all(np.abs(values) > 1e-3)  # a real signal, not zeros
    np.testing.assert_allclose(values, reference, atol=1e-5, rtol=0)


def test_image_consistency_is_the_cosine_of_the_image_embeddings(clip_dir, pairs):
    src, edit, _, _ = ours(clip_dir, *pairs)
    by_hand = np.array([a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(src.astype(np.float64), edit.astype(np.float64))])
    np.testing.assert_allclose(image_consistency(src, edit), by_hand, atol=1e-12)
    guide = GuideDirectionalSimilarity(clip_dir)
    with torch.no_grad():
        cos = F.cosine_similarity(guide.encode_image(pairs[0]), guide.encode_image(pairs[1])).numpy()
    np.testing.assert_allclose(image_consistency(src, edit), cos, atol=1e-5)
    np.testing.assert_allclose(image_consistency(src, src), 1.0, atol=1e-12)


def test_no_direction_scores_zero_as_in_the_guide():
    """An unchanged image (or input == output caption) has no direction: 0, as torch's cosine_similarity gives."""
    rng = np.random.default_rng(0)
    img, edit, t1, t2 = (rng.normal(size=(4, 16)).astype(np.float32) for _ in range(4))
    assert np.array_equal(directional_similarity(img, img, t1, t2), np.zeros(4))
    assert np.array_equal(directional_similarity(img, edit, t1, t1), np.zeros(4))
    guide = F.cosine_similarity(torch.zeros(4, 16), torch.from_numpy(t2 - t1)).numpy()
    assert np.array_equal(guide, np.zeros(4))


def test_normalization_comes_first():
    """Each embedding is unit-normalized before the differences: rescaling one changes nothing."""
    rng = np.random.default_rng(1)
    img, edit, t1, t2 = (rng.normal(size=(5, 8)) for _ in range(4))
    base = directional_similarity(img, edit, t1, t2)
    scaled = directional_similarity(3 * img, 0.5 * edit, 7 * t1, t2)
    np.testing.assert_allclose(scaled, base, atol=1e-12)
    unit = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in (img, edit, t1, t2)]
    d_img, d_txt = unit[1] - unit[0], unit[3] - unit[2]
    by_hand = np.sum(d_img * d_txt, 1) / (np.linalg.norm(d_img, axis=1) * np.linalg.norm(d_txt, axis=1))
    np.testing.assert_allclose(base, by_hand, atol=1e-12)
    assert np.all(np.abs(base) <= 1 + 1e-12)


def test_shape_mismatches_raise():
    a = np.ones((3, 4))
    with pytest.raises(ValueError, match="caption pairs"):
        directional_similarity(a, a, np.ones((2, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="one shape"):
        image_consistency(a, np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        image_consistency(np.ones(4), np.ones(4))


def test_captions_longer_than_the_context_match_the_guide(clip_dir, pairs):
    sources, edited, inputs, outputs = pairs
    long_inputs = [f"{text} {text} {text}" for text in inputs]  # about 150 tokens each: past the 77 context
    reference = GuideDirectionalSimilarity(clip_dir)(sources, edited, long_inputs, outputs).numpy()
    np.testing.assert_allclose(directional_similarity(*ours(clip_dir, sources, edited, long_inputs, outputs)), reference, atol=1e-5)
