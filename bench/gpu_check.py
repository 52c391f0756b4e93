"""GPU throughput check: the flow's generation and CLIP extraction functions against bare loops, full-size models.

Builds a random-weight SD-1.5-architecture pipeline and a ViT-B/16-size CLIP, then, without Prefect,
runs `tasks.generation.generate.generate_missing` (items planned by tasks/plan/keys.py, into a temp Store) and
the CLIP extractors' jobs (`tasks.extractors.registry.run_job`) on 32 prompts, float16, batch 8, 512x512, 25 steps, and a bare
diffusers loop over the same pipeline object (same batches, per-image generators). Prints images/s
and peak GPU memory. Estimate on one H100 with 25 steps: models built, written (4.6 GB of float32
weights) and hashed in about 1 min (30 s on one CPU thread here), loaded in ~15 s, each 32-image pass
10-30 s, CLIP a few seconds: 2-4 min in all, inside the 8-minute budget.

    bash bench/gpu_check.sh                                  # on the GPU machine; see bench/README.md
    OMP_NUM_THREADS=1 .venv/bin/python bench/gpu_check.py --cpu-smoke   # logic check, tiny models, CPU
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FULL = {"prompts": 32, "batch": 8, "size": 512, "steps": 25, "dtype": "float16", "device": "cuda"}
SMOKE = {"prompts": 8, "batch": 4, "size": 64, "steps": 2, "dtype": "float32", "device": "cpu"}
CLIP_BATCH = 32


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny models on CPU: a logic check, not a measurement")
    for name in ("prompts", "batch", "size", "steps"):
        parser.add_argument(f"--{name}", type=int, default=None, help=f"default {FULL[name]} ({SMOKE[name]} with --cpu-smoke)")
    parser.add_argument("--work", default=None, help="folder for models and store (default: a temp dir, removed at the end)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    return parser.parse_args(argv)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> str:
    import torch

    return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if device.startswith("cuda") else "n/a (CPU)"


def build_models(work: Path, smoke: bool) -> tuple[Path, Path]:
    """The SD pipeline folder and the CLIP folder: full-size random weights, or tiny ones for the smoke check."""
    from tasks.demo import tiny

    if smoke:
        return tiny.build_tiny_sd(work / "sd-tiny", seed=0), tiny.build_tiny_clip(work / "clip-tiny")
    return tiny.build_full_sd15(work / "sd15"), tiny.build_full_clip_b16(work / "clip-b16")


def warm_up_tables(work: Path) -> None:
    """One throwaway Parquet part: pyarrow imports pandas on a process's first write (~0.4 s), not in a timed pass."""
    from artifacts import tables
    from artifacts.store import Store

    tables.append(Store(work / "warm-up"), "warm-up", [{"a": 1}])


def prompt_conditions(n: int) -> list[dict]:
    """n condition rows from the built-in prompts, cycled with a suffix so every text is distinct."""
    from tasks.inputs.builtin_prompts import BUILTIN_PROMPTS
    from tasks.inputs.conditions import prompts_to_conditions

    rows = []
    for i in range(n):
        text, category, challenge = BUILTIN_PROMPTS[i % len(BUILTIN_PROMPTS)]
        suffix = f", variation {i // len(BUILTIN_PROMPTS)}" if i >= len(BUILTIN_PROMPTS) else ""
        rows.append({"prompt_id": f"p{i:03d}", "text": text + suffix, "category": category, "challenge": challenge})
    return prompts_to_conditions(rows)


def plan(sd_dir: Path, cfg: dict, store) -> dict:
    """Resolve the model and plan one item per prompt (seed 0) exactly as prepare() would."""
    from tasks.models.resolve import pipeline_call_parameters, pipeline_class_name, resolve_model
    from tasks.plan.keys import accepted_settings, plan_variant
    from tasks.values.units import Variant
    from tasks.models.facts import PipelineFacts
    from tasks.spec import GenerationSpec

    resolved = resolve_model(str(sd_dir))
    gen = GenerationSpec(steps=cfg["steps"], guidance_scale=7.5, height=cfg["size"], width=cfg["size"], seeds=[0],
                         batch_size=cfg["batch"], dtype=cfg["dtype"], device=cfg["device"])
    pipeline = pipeline_class_name(resolved.local_dir)
    variant = Variant("sd15", "sd15", 0, {}, gen, pipeline, cfg["device"], cfg["dtype"],
                      taken=accepted_settings(pipeline_call_parameters(pipeline)))
    conditions = prompt_conditions(cfg["prompts"])
    return {"resolved": resolved, "gen": gen, "variant": variant, "conditions": conditions,
            "items": plan_variant(variant, resolved, conditions, PipelineFacts(store))}


def bare_generate(pipe, items: list, texts: dict[str, str], gen, device: str) -> tuple[float, list]:
    """The same batches through the pipeline object, per-image generators, PIL out; nothing stored."""
    import torch

    from artifacts.keys import derive_seed

    images = []
    sync(device)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(items), gen.batch_size):
            batch = items[start : start + gen.batch_size]
            generators = [torch.Generator("cpu").manual_seed(derive_seed(i.seed, i.sample_index)) for i in batch]
            images += pipe(prompt=[texts[i.condition_id] for i in batch], generator=generators, num_inference_steps=gen.steps,
                           guidance_scale=gen.guidance_scale, height=gen.height, width=gen.width, output_type="pil").images
    sync(device)
    return time.perf_counter() - started, images


def generation(p: dict, store, cfg: dict) -> list[tuple[str, str]]:
    """Load, warm up, then time the bare loop and generate_missing on the same pipeline object."""
    from artifacts.images import png_bytes
    from artifacts.keys import sha256_bytes
    from tasks.generation.generate import cached_pipeline, generate_missing
    from tasks.values.units import GenerationBatch

    v, gen, items, device = p["variant"], p["gen"], p["items"], cfg["device"]
    texts = {c.condition_id: c.text for c in p["conditions"]}
    started = time.perf_counter()
    pipe = cached_pipeline(p["resolved"], v.pipeline, None, v.dtype, device)  # the object generate_missing reuses
    load = time.perf_counter() - started
    bare_generate(pipe, items[: gen.batch_size], texts, gen.model_copy(update={"steps": 2}), device)  # warm-up, untimed
    reset_peak(device)
    bare, images = bare_generate(pipe, items, texts, gen, device)
    bare_peak = peak_gib(device)
    reset_peak(device)
    sync(device)
    started = time.perf_counter()
    made = generate_missing(store, GenerationBatch(v, p["resolved"], tuple(p["conditions"]), tuple(items)))
    sync(device)
    ours = time.perf_counter() - started
    assert made == len(items), f"generate_missing made {made} of {len(items)} images"
    from tasks.plan.keys import existing_images

    rows = existing_images(store, {i.key for i in items})
    same = sum(sha256_bytes(png_bytes(img)) == rows[i.key]["sha256"] for img, i in zip(images, items))
    n = len(items)
    return [("pipeline load (from_pretrained, to device)", f"{load:.1f} s"),
            ("bare diffusers loop", f"{n / bare:.2f} images/s  ({bare:.1f} s, peak {bare_peak})"),
            ("generate_missing (PNG, store, table)", f"{n / ours:.2f} images/s  ({ours:.1f} s, peak {peak_gib(device)})"),
            ("generate_missing / bare, time", f"{ours / bare:.3f}"),
            ("bare images the store holds byte for byte", f"{same}/{n}")]


def extraction(p: dict, store, clip_dir: Path, cfg: dict) -> list[tuple[str, str]]:
    """Load CLIP, warm up, then time a bare decode + embed loop and the CLIP extractors' jobs on the stored PNGs."""
    from artifacts.keys import sha256_text
    from artifacts.store import image_rel
    from tasks.extractors.clip import cached_clip, clip_extractors, images_to_clip_embeds, png_to_uint8_chw, texts_to_clip_embeds
    from tasks.extractors.registry import Job, run_job
    from tasks.models.resolve import resolve_model
    from tasks.plan.keys import existing_images

    device = cfg["device"]
    started = time.perf_counter()
    resolved = resolve_model(str(clip_dir), kind="clip", who="clip")
    clip = cached_clip(resolved, device)  # the object the extractors reuse
    load = time.perf_counter() - started
    rows = existing_images(store, {i.key for i in p["items"]})
    images = {rows[i.key]["sha256"]: image_rel(i.key) for i in p["items"]}
    texts = [c.text for c in p["conditions"]]
    images_to_clip_embeds(clip, [png_to_uint8_chw(store.read_bytes(next(iter(images.values()))))])  # warm-up, untimed
    texts_to_clip_embeds(clip, texts[:2])
    sync(device)
    started = time.perf_counter()
    images_to_clip_embeds(clip, [png_to_uint8_chw(store.read_bytes(rel)) for rel in images.values()], CLIP_BATCH)
    texts_to_clip_embeds(clip, texts, CLIP_BATCH)
    sync(device)
    bare = time.perf_counter() - started
    reset_peak(device)
    started = time.perf_counter()
    image, text = clip_extractors(resolved, device, CLIP_BATCH)
    counts = [run_job(store, job) for job in (Job(image, images), Job(text, {sha256_text(t): t for t in texts}))]
    extracted, reused = sum(c[0] for c in counts), sum(c[1] for c in counts)
    sync(device)
    ours = time.perf_counter() - started
    assert (extracted, reused) == (len(images) + len(set(texts)), 0), f"CLIP jobs: {extracted} extracted, {reused} reused"
    n = len(images)
    return [("CLIP load (fingerprint, from_pretrained, to device)", f"{load:.1f} s"),
            ("bare CLIP loop (decode PNG, image + text embeds)", f"{n / bare:.1f} images/s  ({bare:.2f} s)"),
            ("CLIP extractor jobs (verify, decode, embed, cache)", f"{n / ours:.1f} images/s  ({ours:.2f} s, peak {peak_gib(device)})"),
            ("CLIP extractor jobs / bare, time", f"{ours / bare:.3f}")]


def header(cfg: dict) -> str:
    """Versions, device and settings: the line that says what the figures are for."""
    import diffusers
    import torch
    import transformers

    device = torch.cuda.get_device_name() if cfg["device"].startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    return (f"gpu_check on {device}: torch {torch.__version__}, diffusers {diffusers.__version__}, transformers "
            f"{transformers.__version__}; {cfg['prompts']} prompts, batch {cfg['batch']}, {cfg['size']}x{cfg['size']}, "
            f"{cfg['steps']} steps, {cfg['dtype']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if not args.cpu_smoke and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run it on a GPU machine (bash bench/gpu_check.sh), "
              "or pass --cpu-smoke for a logic check on tiny models", file=sys.stderr)
        return 2
    cfg = {**(SMOKE if args.cpu_smoke else FULL), **{k: getattr(args, k) for k in ("prompts", "batch", "size", "steps") if getattr(args, k) is not None}}
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    from artifacts.store import Store
    from bench.common import print_table

    work = Path(args.work).resolve() if args.work else Path(tempfile.mkdtemp(prefix="gpu-check-"))
    try:
        print(header(cfg), flush=True)
        began = started = time.perf_counter()
        sd_dir, clip_dir = build_models(work, args.cpu_smoke)
        built = time.perf_counter() - started
        store = Store(work / "store")
        started = time.perf_counter()
        p = plan(sd_dir, cfg, store)
        planned = time.perf_counter() - started
        warm_up_tables(work)
        rows = [("build random-weight models (CPU)", f"{built:.1f} s"),
                (f"fingerprint + plan {len(p['items'])} items", f"{planned:.1f} s")]
        rows += generation(p, store, cfg)
        rows += extraction(p, store, clip_dir, cfg)
        rows.append(("total wall time", f"{time.perf_counter() - began:.1f} s"))
        print_table("gpu_check" + (" (CPU smoke: a logic check, not a measurement)" if args.cpu_smoke else ""), rows)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
