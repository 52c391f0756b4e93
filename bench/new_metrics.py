"""Throughput of the newer metrics' extractors (DINOv2, CMMD CLIP, PickScore, HPS v2) against a bare loop of the same model.

Full-size random-weight models (dinov2-large, CLIP ViT-L/14@336, CLIP ViT-H/14, open_clip ViT-H-14)
are built once into --models. For each, in one process and on the same loaded model object: our
extractor's batch function on N (sha256, PNG bytes) pairs (decode, the spec's preprocessing, the
model's transform, forward, float32 rows) against a bare loop that decodes the same PNGs and runs the
model's own transform and forward (dgm-eval's torchvision transform, cmmd's numpy path, PickScore's
CLIPProcessor, open_clip's eval transform). Runs alternate (ours, bare, ours, ...) after one untimed
run of each on the same images, so other load on the machine hits both; the median of --repeats is reported, and the ratio
ours / bare of images per second.

    OMP_NUM_THREADS=2 .venv/bin/python bench/new_metrics.py --models /tmp/full-models -n 8 --repeats 3
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = extractor_bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--only", default="dinov2,cmmd-clip,pickscore,hpsv2", help="comma-separated extractors")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tiny", action="store_true", help="the tiny stand-ins instead: a smoke check of this script, not a figure")
    return parser.parse_args(argv)


def sides(name: str, folder: Path, device: str, batch_size: int):
    """(ours, bare): two functions of the PNG pairs that run the same loaded model."""
    import numpy as np
    import torch

    from tasks.extractors.preprocess import Preprocess
    from tasks.models.resolve import resolve_model

    pre = Preprocess(center_crop=None)
    chunks = lambda pairs: [pairs[s : s + batch_size] for s in range(0, len(pairs), batch_size)]  # noqa: E731
    if name == "dinov2":
        import torchvision.transforms as TF

        from tasks.extractors.dinov2 import cached_dinov2, dinov2_extractor

        resolved = resolve_model(str(folder), kind="dinov2")
        ours, model = dinov2_extractor(resolved, pre, device, {}, batch_size), cached_dinov2(resolved, device)
        transform = TF.Compose([TF.Resize((224, 224), TF.InterpolationMode.BICUBIC), TF.ToTensor(),
                                TF.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])

        def bare(pairs):
            for chunk in chunks(pairs):
                model(pixel_values=torch.stack([transform(pil_image(d)) for _, d in chunk]).to(device)).pooler_output.cpu()
    elif name == "cmmd-clip":
        from tasks.extractors.cmmd_clip import cached_vision_clip, cmmd_extractor, crop_square_and_resize

        resolved = resolve_model(str(folder), kind="clip")
        ours, clip = cmmd_extractor(resolved, pre, device, {}, batch_size), cached_vision_clip(resolved, device)
        from transformers import CLIPImageProcessor

        processor = CLIPImageProcessor.from_pretrained(str(folder))

        def bare(pairs):  # google-research cmmd's io_util.py then embedding.py
            for chunk in chunks(pairs):
                x = np.stack([crop_square_and_resize(np.asarray(pil_image(d)), clip.size).astype(np.float32) / 255 for _, d in chunk])
                x = torch.from_numpy(x.transpose(0, 3, 1, 2))
                x = torch.nn.functional.interpolate(x, size=(clip.size, clip.size), mode="bicubic").permute(0, 2, 3, 1).numpy()
                inputs = processor(images=x, do_normalize=True, do_center_crop=False, do_resize=False, do_rescale=False, return_tensors="pt")
                clip.model(pixel_values=inputs["pixel_values"].to(device)).image_embeds.cpu()
    elif name == "pickscore":
        from tasks.extractors.clip import cached_clip, clip_extractors

        resolved = resolve_model(str(folder), kind="clip")
        ours, clip = clip_extractors(resolved, device, batch_size, truncate="tokenizer")[0], cached_clip(resolved, device)

        def bare(pairs):  # the PickScore README's path
            for chunk in chunks(pairs):
                inputs = clip.processor(images=[pil_image(d) for _, d in chunk], return_tensors="pt")
                clip.model.get_image_features(pixel_values=inputs["pixel_values"].to(device))
    else:
        from tasks.extractors.hps import cached_open_clip, hps_extractors

        resolved = resolve_model(str(folder), kind="open_clip")
        ours, clip = hps_extractors(resolved, "ViT-H-14", device, batch_size)[0], cached_open_clip(resolved, "ViT-H-14", device)

        def bare(pairs):  # hpsv2.score's path
            for chunk in chunks(pairs):
                clip.model.encode_image(torch.stack([clip.transform(pil_image(d)) for _, d in chunk]).to(device)).cpu()

    return ours.batch, torch.inference_mode()(bare)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    from tasks.demo.tiny_metric_models import build_metric_models

    if args.threads:
        torch.set_num_threads(args.threads)
    names = tuple(args.only.split(","))
    models_dir = Path(args.models or tempfile.mkdtemp(prefix="diffeval-full-"))
    started = time.perf_counter()
    folders = build_metric_models(models_dir, full=not args.tiny, names=names)
    print(f"{'tiny' if args.tiny else 'full-size'} models ready in {time.perf_counter() - started:.0f} s under {models_dir}; torch threads {torch.get_num_threads()}")
    pairs = make_pngs(args.n, args.image_size)
    print(f"{'extractor':<10} {'ours img/s':>10} {'bare img/s':>10} {'ours/bare':>9}  runs (s, ours | bare)")
    for name in names:
        ours, bare = sides(name, folders[name], args.device, args.batch_size)
        ours(pairs), bare(pairs)  # warm-up at the timed batch shapes: oneDNN builds its kernels per shape on first use
        times = {"ours": [], "bare": []}
        for _ in range(args.repeats):
            for side, fn in (("ours", ours), ("bare", bare)):
                t = time.perf_counter()
                fn(pairs)
                times[side].append(time.perf_counter() - t)
        print_rates(name, args.n, times)


if __name__ == "__main__":
    main()
