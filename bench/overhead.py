"""Flow overhead benchmark: generation + CLIP extraction through the flow against a bare diffusers loop.

Both sides do the same work (96 images: 24 built-in prompts x 4 seeds, one tiny SD model, 64x64,
4 steps, batch 8; CLIP image embeddings in batches of 32 and the 24 text embeddings). Model loading
is excluded from both: the flow's pipeline and CLIP model are loaded into the flow's per-process
caches before timing, the bare loop's with plain from_pretrained, and each is warmed up by one
untimed call. Imports and the Prefect server start are also paid before timing.

    OMP_NUM_THREADS=1 .venv/bin/python bench/overhead.py --threads 1 --repeats 3
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    bench_parser, bench_setup, import_everything, machine_line, print_profile, print_table, tiny_spec, timed,
    warm_up_prefect, write_spec,
)

GOAL_RATIO = 1.15
PROMPTS, SEEDS = 24, [0, 1, 2, 3]
SIDES = ("bare", "flow", "quiet", "direct")  # quiet: the flow with heartbeats off


def png_encode(image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def png_decode(data: bytes):
    """PNG bytes → uint8 CHW tensor."""
    import numpy as np
    import torch
    from PIL import Image

    return torch.from_numpy(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).copy()).permute(2, 0, 1)


def bare_loop(pipe, clip, items: list[dict], texts: dict[str, str], gen, clip_batch: int) -> list[bytes]:
    """Generate with per-image generators, PNG-encode, decode, CLIP-embed images and texts; no store, no Prefect."""
    import torch

    from artifacts.keys import derive_seed
    from tasks.extractors.clip import images_to_clip_embeds, texts_to_clip_embeds

    pngs = []
    with torch.inference_mode():
        for start in range(0, len(items), gen.batch_size):
            batch = items[start : start + gen.batch_size]
            generators = [torch.Generator("cpu").manual_seed(derive_seed(i.seed, i.sample_index)) for i in batch]
            images = pipe(prompt=[texts[i.condition_id] for i in batch], generator=generators,
                          num_inference_steps=gen.steps, guidance_scale=gen.guidance_scale,
                          height=gen.height, width=gen.width, output_type="pil").images
            pngs += [png_encode(image) for image in images]
    for start in range(0, len(pngs), clip_batch):
        images_to_clip_embeds(clip, [png_decode(p) for p in pngs[start : start + clip_batch]], clip_batch)
    texts_to_clip_embeds(clip, list(dict.fromkeys(texts.values())), clip_batch)
    return pngs


def load_both_sides(spec_path: str, scratch: Path) -> dict:
    """Prepare the spec once; load the flow's cached pipeline and CLIP, and the bare loop's own copies."""
    import diffusers
    import torch

    from artifacts.store import Store
    from tasks.extractors.clip import cached_clip, load_clip
    from tasks.generation.generate import cached_pipeline
    from tasks.plan.prepare import prepare

    prepared = prepare(spec_path, Store(scratch))
    (variant,) = prepared.variants
    resolved, clip_model = prepared.models[variant.model], prepared.metric_models["clip_score"]
    flow_pipe = cached_pipeline(resolved, variant.pipeline, variant.settings.scheduler, variant.dtype, variant.device)
    cached_clip(clip_model, variant.device)
    pipe = getattr(diffusers, variant.pipeline).from_pretrained(resolved.local_dir, torch_dtype=getattr(torch, variant.dtype))
    pipe.set_progress_bar_config(disable=True)
    texts = {c.condition_id: c.text for c in prepared.conditions}
    side = {"pipe": pipe.to(variant.device), "clip": load_clip(clip_model, variant.device), "items": prepared.items,
            "texts": texts, "gen": variant.settings, "clip_batch": prepared.spec.metrics.clip_score.batch_size}
    # One untimed batch through each pipeline and CLIP: first calls pay one-off allocations.
    warm = {**side, "items": prepared.items[: variant.settings.batch_size]}
    bare_loop(**warm)
    bare_loop(**{**warm, "pipe": flow_pipe, "clip": cached_clip(clip_model, variant.device)})
    return side


def flow_once(evaluate, spec_path: str, store: Path, planned: int, heartbeats: bool = True) -> float:
    """One cold flow run into a fresh store; check it generated every image."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # Prefect's heartbeat thread sleeps in 1 s steps and the flow joins it on exit: up to 1 s per run.
    with temporary_settings(updates={} if heartbeats else {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        seconds, summary = timed(evaluate, spec_path=spec_path, store=str(store))
    if summary["counts"]["images_generated"] != planned:
        sys.exit(f"overhead: flow run generated {summary['counts']['images_generated']} images, expected {planned}")
    return seconds


def direct_once(spec_path: str, store: Path) -> float:
    """The flow's task bodies (each task's .fn, no Prefect) in the flow's order, into a fresh store."""
    from artifacts.store import Store
    from flows import evaluate as flow
    from artifacts.run_ids import new_run_id

    started = time.perf_counter()
    root = str(Store(store).root)
    prepared, batches, _ = flow.prepare_task.fn(spec_path, root)  # a fresh store: images to generate
    generated = sum(flow.generate_task.fn(root, batch) for batch in batches)
    planned = len({i.key for i in prepared.items})
    counts = {"images_planned": planned, "images_generated": generated, "images_reused": planned - generated}
    extracted, rows = flow.extract_task.fn(root, prepared)
    flow.score_task.fn(root, prepared, rows, new_run_id(prepared.spec.name), counts | extracted)
    return time.perf_counter() - started


def same_pixels(store: Path, pngs: list[bytes]) -> str:
    """How many of the bare loop's PNGs the flow wrote byte for byte (same work, same seeds)."""
    from artifacts import tables
    from artifacts.keys import sha256_bytes
    from artifacts.store import Store

    flow = set(tables.read(Store(store), tables.GENERATIONS).column("sha256").to_pylist())
    return f"{sum(sha256_bytes(p) in flow for p in pngs)}/{len(pngs)}"


def one_run(name: str, side: dict, evaluate, spec_path: str, root: Path) -> tuple[float, object]:
    """One timed run of one side: (seconds, the bare loop's PNGs or the store the run wrote)."""
    if name == "bare":
        return timed(bare_loop, **side)
    store = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    if name == "direct":
        return direct_once(spec_path, store), store
    return flow_once(evaluate, spec_path, store, len(side["items"]), heartbeats=name == "flow"), store


def print_results(seconds: dict[str, list[float]], left: dict[str, object], title: str) -> float:
    """The table of medians and ratios; return flow / bare."""
    b, f, q, d = (statistics.median(seconds[name]) for name in SIDES)
    listed = lambda name: ", ".join(f"{x:.2f}" for x in seconds[name])  # noqa: E731
    print_table(title, [
        ("bare loop (diffusers + PNG + CLIP)", f"{b:.2f} s  ({listed('bare')})"),
        ("flow, cold into a fresh store", f"{f:.2f} s  ({listed('flow')})"),
        ("flow with flow heartbeats off", f"{q:.2f} s  ({listed('quiet')})"),
        ("task bodies (.fn) without Prefect", f"{d:.2f} s  ({listed('direct')})"),
        ("flow / bare", f"{f / b:.3f}  (goal <= {GOAL_RATIO}: {'met' if f / b <= GOAL_RATIO else 'MISSED'})"),
        ("flow with heartbeats off / bare", f"{q / b:.3f}"),
        ("task bodies / bare (store, tables, scoring, report)", f"{d / b:.3f}"),
        ("flow - task bodies (Prefect)", f"{f - d:.2f} s"),
        ("bare PNGs the flow also wrote, byte for byte", same_pixels(left["flow"], left["bare"])),
    ])
    return f / b


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="also cProfile one direct (no Prefect) run")
    args = parser.parse_args(argv)
    root, models_dir = bench_setup(args, "overhead")
    from tasks.demo.tiny import build_tiny_models

    models = build_tiny_models(models_dir)
    spec_path = write_spec(root / "specs", tiny_spec("bench-overhead", models, ["sd-a"], SEEDS, PROMPTS))
    import_everything()
    warm_up_prefect()
    from flows.evaluate import evaluate

    side = load_both_sides(spec_path, root / "scratch")
    print(machine_line(), file=sys.stderr)
    seconds: dict[str, list[float]] = {name: [] for name in SIDES}
    left: dict[str, object] = {}
    for r in range(args.repeats):
        for name in SIDES[r % len(SIDES):] + SIDES[: r % len(SIDES)]:  # rotated, so load noise hits each side alike
            took, left[name] = one_run(name, side, evaluate, spec_path, root)
            seconds[name].append(took)
    title = (f"overhead: {len(side['items'])} images, 64x64, {side['gen'].steps} steps, batch {side['gen'].batch_size}, "
             f"CLIP batch {side['clip_batch']} (medians of {args.repeats})")
    ratio = print_results(seconds, left, title)
    if args.profile or ratio > GOAL_RATIO:
        print_profile(lambda: direct_once(spec_path, Path(tempfile.mkdtemp(prefix="profile-", dir=root))),
                      "one run of the task bodies without Prefect", own=15, repo=25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
