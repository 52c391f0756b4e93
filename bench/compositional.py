"""Throughput of GenEval's detections extractor and VQAScore's extractor against a bare loop of the same models.

For each, in one process and on the same loaded model objects:
- ours: the extraction stage's path, `artifacts.features.extract_missing` into a fresh store (cache
  look-up, leases, the extractor's batch function, Parquet parts), reading PNG bytes;
- bare: a plain loop over the same PNGs in batches of the same size, calling the models directly:
  GenEval: the image processor, Mask2Former forward, mmdet's instance post-processing and CLIP on the
  masked crops of the instances above 0.3; VQAScore: the chat template, the processor, `generate(max_new_tokens=1,
  output_scores=True)` and softmax of the first scores.
One untimed run of each first; runs alternate (ours, bare, ...) so machine load hits both; the median
of --repeats is reported with the ratio ours / bare of images per second (1.0: the plumbing is free).
By default the tiny stand-ins (tasks/demo/tiny_compositional.py); --detector / --vlm / --clip take
real folders (e.g. on a GPU machine through bench/gpu_check.sh).

    OMP_NUM_THREADS=2 .venv/bin/python bench/compositional.py -n 16 --repeats 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import extractor_bench_parser, make_pngs, pil_image, print_rates  # noqa: E402

QUESTION = 'Does this figure show "{}"? Please answer Yes or No.'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = extractor_bench_parser(__doc__.splitlines()[0], n=16, models="the tiny models")
    parser.add_argument("--detector", default=None, help="a Mask2Former folder (default: the tiny one)")
    parser.add_argument("--clip", default=None, help="a CLIP folder for GenEval's colours (default: the tiny one)")
    parser.add_argument("--vlm", default=None, help="an image-text-to-text folder (default: the tiny Qwen2-VL)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", help="VLM dtype (default float32)")
    parser.add_argument("--only", default="geneval,vqascore")
    return parser.parse_args(argv)


def geneval_sides(detector_dir: str, clip_dir: str, device: str, batch_size: int):
    """(ours(store, pairs), bare(pairs)) on the same loaded Mask2Former and CLIP."""
    import numpy as np
    import torch

    from artifacts import features as cache
    from tasks.extractors.geneval import cached_detector, crops_to_colors, geneval_extractor, masked_crop, outputs_to_instances
    from tasks.models.resolve import resolve_model

    detector, clip = resolve_model(detector_dir, kind="transformers"), resolve_model(clip_dir, kind="clip")
    ex, model = geneval_extractor(detector, clip, device, batch_size), cached_detector(detector, device)

    def ours(store, pairs):
        data = dict(pairs)
        cache.extract_missing(store, ex.fingerprint, list(data), lambda shas: [(s, data[s]) for s in shas], ex.batch, batch_size)

    @torch.inference_mode()
    def bare(pairs):
        for start in range(0, len(pairs), batch_size):
            images = [pil_image(d) for _, d in pairs[start : start + batch_size]]
            inputs = model.processor(images=images, return_tensors="pt")
            out = model.model(pixel_values=inputs["pixel_values"].to(device), pixel_mask=inputs["pixel_mask"].to(device))
            padded = tuple(inputs["pixel_values"].shape[-2:])
            for i, image in enumerate(images):
                valid = inputs["pixel_mask"][i]
                resized = (int(valid.any(dim=1).sum()), int(valid.any(dim=0).sum()))
                labels, scores, boxes, masks = outputs_to_instances(out.class_queries_logits[i].cpu(), out.masks_queries_logits[i].cpu(),
                                                                    padded, resized, (image.height, image.width))
                for label in {int(v) for v in labels[scores > 0.3]}:
                    keep = [j for j in range(len(labels)) if int(labels[j]) == label and float(scores[j]) > 0.3]
                    crops = [masked_crop(image, masks[j].numpy(), np.asarray(boxes[j])) for j in keep]
                    crops_to_colors(clip, device, crops, model.names[label])

    return (lambda store, pairs: None), ours, bare


def vqa_sides(vlm_dir: str, device: str, dtype: str, batch_size: int, prompts: list[str]):
    """(ours(store, pairs), bare(pairs)) on the same loaded VLM; image i is asked about prompts[i]."""
    import json

    import torch

    from artifacts import features as cache
    from tasks.extractors.vqa import cached_vlm, pair_key, vlm_inputs, vqa_extractor
    from tasks.models.resolve import resolve_model

    resolved = resolve_model(vlm_dir, kind="transformers")
    vlm = cached_vlm(resolved, device, dtype)
    yes = vlm.processor.tokenizer.encode("Yes", add_special_tokens=False)[0]

    def setup(store, pairs):  # untimed: the run's images are in the store before extraction starts
        for sha, data in pairs:
            store.write_bytes(f"bench/{sha}.png", data)

    def ours(store, pairs):
        payload = {pair_key(sha, prompt): json.dumps({"path": f"bench/{sha}.png", "sha": sha, "prompt": prompt}, sort_keys=True)
                   for (sha, _), prompt in zip(pairs, prompts)}
        ex = vqa_extractor(store, resolved, device, QUESTION, "Yes", dtype, batch_size)
        cache.extract_missing(store, ex.fingerprint, list(payload), lambda keys: [payload[k] for k in keys], ex.batch, batch_size)

    @torch.inference_mode()
    def bare(pairs):
        for start in range(0, len(pairs), batch_size):
            images = [pil_image(d) for _, d in pairs[start : start + batch_size]]
            inputs = vlm_inputs(vlm, images, [QUESTION.format(p) for p in prompts[start : start + batch_size]]).to(device)
            out = vlm.model.generate(**inputs, max_new_tokens=1, do_sample=False, output_scores=True, return_dict_in_generate=True)
            torch.softmax(out.scores[0].double(), dim=-1)[:, yes].cpu()

    return setup, ours, bare


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    from artifacts.store import Store
    from tasks.demo.tiny import _ensure_built, build_tiny_clip
    from tasks.demo.tiny_compositional import build_compositional_models
    from tasks.inputs.geneval_prompts import geneval_rows

    models_dir = Path(args.models or tempfile.mkdtemp(prefix="diffeval-compositional-"))
    tiny = build_compositional_models(models_dir)
    clip = args.clip or str(_ensure_built(models_dir / "clip", build_tiny_clip))
    pairs = make_pngs(args.n, args.image_size)
    prompts = [text for text, _ in geneval_rows()][: args.n]
    print(f"models under {models_dir}; torch threads {torch.get_num_threads()}; {args.n} images of {args.image_size} px, batch {args.batch_size}")
    print(f"{'extractor':<10} {'ours img/s':>10} {'bare img/s':>10} {'ours/bare':>9}  runs (s, ours | bare)")
    for name in args.only.split(","):
        if name == "geneval":
            setup, ours, bare = geneval_sides(args.detector or str(tiny["mask2former"]), clip, args.device, args.batch_size)
        else:
            setup, ours, bare = vqa_sides(args.vlm or str(tiny["vlm"]), args.device, args.dtype, args.batch_size, prompts)
        with tempfile.TemporaryDirectory() as scratch:
            stores = [Store(Path(scratch) / f"run{r}") for r in range(args.repeats + 1)]  # fresh stores: nothing cached
            for store in stores:
                setup(store, pairs)
            ours(stores[0], pairs), bare(pairs)  # untimed: kernels built per shape, models loaded
            times = {"ours": [], "bare": []}
            for store in stores[1:]:
                for side in ("ours", "bare"):
                    t = time.perf_counter()
                    ours(store, pairs) if side == "ours" else bare(pairs)
                    times[side].append(time.perf_counter() - t)
        print_rates(name, args.n, times)


if __name__ == "__main__":
    main()
