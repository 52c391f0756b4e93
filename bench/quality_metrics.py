"""Throughput of the aesthetic and OCR extractors, and of the PRDC math, against a bare loop of the same model / code.

aesthetic-clip: our extractor's batch function on N (sha256, PNG bytes) pairs against simple_inference's
loop (decode, OpenAI clip's torchvision transform, encode_image) on the same loaded CLIP ViT-L/14
(full-size random weights, 224 px). trocr: our extractor against TrOCR's model-card loop (processor,
generate, batch_decode) on the same loaded model (trocr-small-printed's shapes, random weights,
--max-new-tokens). prdc: our float64 block math against the prdc package (k=3 for P/R plus k=5 for
D/C, as we report them) on random [n, 2048] features. Runs alternate (ours, bare, ...) after one
untimed run of each; the median of --repeats is reported, and ours / bare of items per second.

    OMP_NUM_THREADS=2 .venv/bin/python bench/quality_metrics.py -n 8 --repeats 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import extractor_bench_parser, make_pngs, pil_image, print_rates  # noqa: E402  (the same PNGs and decoding as the other extractor benches)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = extractor_bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=2000, help="rows per set for the prdc bench (default 2000)")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--only", default="aesthetic-clip,trocr,prdc")
    parser.add_argument("--tiny", action="store_true", help="the tiny stand-ins: a smoke check of this script, not a figure")
    return parser.parse_args(argv)


def build(folder: Path, name: str, tiny: bool) -> Path:
    """The model folder of `name`: the tiny stand-in, or full-size random weights of the real architecture."""
    from tasks.demo.tiny import _clip_folder, _ensure_built
    from tasks.demo.tiny_quality_models import build_quality_models

    if tiny:
        return build_quality_models(folder, (name,))[name]
    if name == "aesthetic-clip":
        from transformers import CLIPConfig

        from tasks.demo.tiny_metric_models import full_clip_config

        config = full_clip_config("l14-336")
        config["vision_config"]["image_size"] = 224  # ViT-L/14 at 224: the aesthetic predictor's CLIP
        return _ensure_built(folder / "full-aesthetic-clip", lambda out: _clip_folder(out, CLIPConfig(**config), 224, seed=4))
    return _ensure_built(folder / "full-trocr", _full_trocr)


def _full_trocr(out: Path) -> None:
    """microsoft/trocr-small-printed's shapes (DeiT-small 384 encoder, 6-layer 256-d decoder), our tokenizer."""
    from transformers import (TrOCRConfig, TrOCRForCausalLM, TrOCRProcessor, ViTConfig, ViTImageProcessor, ViTModel,
                              VisionEncoderDecoderModel)

    from tasks.demo.tiny_configs import corpus_to_clip_tokenizer

    tok = corpus_to_clip_tokenizer()
    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    enc = ViTConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536, image_size=384, patch_size=16)
    dec = TrOCRConfig(vocab_size=64044, d_model=256, decoder_layers=6, decoder_attention_heads=8, decoder_ffn_dim=1024,
                      decoder_start_token_id=ids["bos_token_id"], **ids)
    model = VisionEncoderDecoderModel(encoder=ViTModel(enc, add_pooling_layer=False), decoder=TrOCRForCausalLM(dec))
    model.config.decoder_start_token_id, model.config.pad_token_id = ids["bos_token_id"], ids["pad_token_id"]
    model.generation_config.decoder_start_token_id = ids["bos_token_id"]
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = ids["pad_token_id"], ids["eos_token_id"]
    model.save_pretrained(out)
    TrOCRProcessor(image_processor=ViTImageProcessor(size={"height": 384, "width": 384}), tokenizer=tok).save_pretrained(out)


def sides(name: str, folder: Path | None, args):
    """(ours, bare, count): two functions over the same inputs, and how many items one call handles."""
    import numpy as np
    import torch

    from tasks.models.resolve import resolve_model

    if name == "prdc":
        import prdc

        from tasks.metrics.prdc import features_to_prdc

        rng = np.random.default_rng(0)
        real, fake = (rng.normal(size=(args.features, 2048)).astype(np.float32) for _ in range(2))
        return (lambda: features_to_prdc(real, fake, 3, 5),
                lambda: (prdc.compute_prdc(real, fake, 3), prdc.compute_prdc(real, fake, 5)), args.features)
    pairs = make_pngs(args.n, args.image_size)
    if name == "aesthetic-clip":
        from tasks.extractors.aesthetic_clip import aesthetic_clip_extractor, cached_clip_vision, openai_clip_transform

        resolved = resolve_model(str(folder), kind="clip")
        ours, model = aesthetic_clip_extractor(resolved, "cpu", args.batch_size), cached_clip_vision(resolved, "cpu")
        transform = openai_clip_transform(224)

        @torch.inference_mode()
        def bare():  # simple_inference's loop, batched
            for s in range(0, len(pairs), args.batch_size):
                model(pixel_values=torch.stack([transform(pil_image(d)) for _, d in pairs[s : s + args.batch_size]])).image_embeds.numpy()
        return (lambda: ours.batch(pairs)), bare, args.n
    from tasks.extractors.ocr import cached_reader, ocr_extractor

    resolved = resolve_model(str(folder), kind="ocr")
    ours, read = ocr_extractor(resolved, "trocr", "cpu", args.max_new_tokens, args.batch_size), cached_reader(resolved, "trocr", "cpu", args.max_new_tokens)

    @torch.inference_mode()
    def bare():  # the TrOCR model card's loop
        for s in range(0, len(pairs), args.batch_size):
            pixels = read.processor(images=[pil_image(d) for _, d in pairs[s : s + args.batch_size]], return_tensors="pt").pixel_values
            read.processor.batch_decode(read.model.generate(pixels, max_new_tokens=args.max_new_tokens), skip_special_tokens=True)
    return (lambda: ours.batch(pairs)), bare, args.n


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    folder = Path(args.models or tempfile.mkdtemp(prefix="diffeval-quality-"))
    print(f"{'tiny' if args.tiny else 'full-size'} models under {folder}; torch threads {torch.get_num_threads()}")
    print(f"{'bench':<15} {'ours /s':>9} {'bare /s':>9} {'ours/bare':>9}  runs (s, ours | bare)")
    for name in args.only.split(","):
        ours, bare, count = sides(name, None if name == "prdc" else build(folder, name, args.tiny), args)
        ours(), bare()  # warm-up at the timed shapes
        times = {"ours": [], "bare": []}
        for _ in range(args.repeats):
            for side, fn in (("ours", ours), ("bare", bare)):
                t = time.perf_counter()
                fn()
                times[side].append(time.perf_counter() - t)
        print_rates(name, count, times, width=15)


if __name__ == "__main__":
    main()
