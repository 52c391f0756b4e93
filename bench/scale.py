"""Scale benchmark: workers, planning and claiming at PartiPrompts size, per-image store cost on S3.

Three parts, each with its baseline measured in the same run:

1. workers: images/s of the generation tasks on 2 Dask CPU workers against 1 (tiny SD, 128x128,
   8 steps, batch 4; each side's pipelines loaded by an untimed first pass on a scratch store);
2. claims: planning 1,632 prompts x 4 seeds x 3 checkpoints (19,584 items: prepare + the diff against
   the store), then leasing them all in batches of 8 with no work inside, on a folder and on a local
   S3 server (moto, fewer items, per-item cost scaled); as seconds and as a share of generating them;
3. store: per-image cost of what generation adds around the pipeline (a 512x512 PNG written, a
   table part per batch of 8) on a folder without leases (the path before leases), a folder with
   leases, and moto S3 with leases.

    OMP_NUM_THREADS=1 .venv/bin/python bench/scale.py --threads 1
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_parser, bench_setup, import_everything, machine_line, print_table, warm_up_prefect  # noqa: E402

PARTI_PROMPTS, SEEDS, CHECKPOINTS, BATCH = 1632, [0, 1, 2, 3], 3, 8


def parser():
    p = bench_parser("Workers, planning and claiming at PartiPrompts size, per-image store cost on S3.", repeats=2)
    p.add_argument("--images", type=int, default=48, help="images per side in the workers part (default 48)")
    p.add_argument("--s3-items", type=int, default=2000, help="items leased on S3 in the claims part (default 2000)")
    p.add_argument("--store-images", type=int, default=96, help="images per side in the store part (default 96)")
    p.add_argument("--seconds-per-image", type=float, default=0.5,
                   help="GPU time per image the claims share is taken of (default 0.5: SD-1.5, 512x512, 25 steps, fp16)")
    p.add_argument("--parts", default="workers,claims,store", help="which parts to run (default all)")
    return p


def write_yaml(folder: Path, spec: dict) -> str:
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompts.txt").write_text("\n".join(spec.pop("_prompts")) + "\n")
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


def spec_of(models: dict, prompts: list[str], names: list[str], generation: dict) -> dict:
    return {"name": "bench-scale", "task": "text-to-image", "_prompts": prompts,
            "prompts": {"source": "file", "path": "prompts.txt"},
            "models": [{"name": n, "path": str(models[m]), **extra} for n, m, extra in (
                ("a", "sd-a", {}), ("b", "sd-b", {}), ("c", "sd-a", {"scheduler": "DPMSolverMultistepScheduler"}))[: len(names)]],
            "generation": {"dtype": "float32", "device": "cpu", "guidance_scale": 7.5, **generation},
            "metrics": {"clip_score": {"model": str(models["clip"])}}}


def workers_part(models: dict, root: Path, images: int, repeats: int) -> list[tuple[str, str]]:
    """images/s of generate_on with 1 and 2 Dask workers (and the thread runner), fresh stores each time."""
    from prefect import flow

    from artifacts.store import Store
    from flows.evaluate import SHARD_SIZE, generate_on
    from flows.runners import Workers
    from tasks.plan.prepare import prepare
    from tasks.spec import RunnerSpec
    from tasks.stages import run as stages

    prompts = [f"a tiny picture number {i}" for i in range(images // 2)]
    spec_path = write_yaml(root / "workers", spec_of(models, prompts, ["a"], {"steps": 8, "height": 128, "width": 128,
                                                                              "seeds": [0, 1], "batch_size": 4}))

    @flow(name="bench-scale-workers")
    def side(kind: str, count: int) -> list[float]:
        times = []
        with Workers(RunnerSpec(kind=kind, workers=count if kind != "thread" else None)) as workers:
            for repeat in range(repeats + 1):  # the first pass loads each worker's pipeline: not timed
                store = Store(root / f"workers-{kind}-{count}-{repeat}")
                prepared = prepare(spec_path, store)
                batches = stages.missing_batches(store, prepared, SHARD_SIZE)
                started = time.perf_counter()
                _, made = generate_on(workers, str(store.root), batches, None, [])
                if repeat:
                    times.append(made / (time.perf_counter() - started))
        return times

    rates = {label: side(kind, count) for label, kind, count in (("thread runner", "thread", 1), ("dask, 1 worker", "dask", 1),
                                                                 ("dask, 2 workers", "dask", 2))}
    rows = [(label, f"{statistics.median(r):.2f} images/s  ({', '.join(f'{x:.2f}' for x in r)})") for label, r in rates.items()]
    ratio = statistics.median(rates["dask, 2 workers"]) / statistics.median(rates["dask, 1 worker"])
    return rows + [("2 workers / 1 worker", f"{ratio:.2f}x  ({images} images, 128x128, 8 steps, batch 4, tiny SD)")]


def noop(batch) -> None:
    return None


def claims_part(models: dict, root: Path, s3_url: str, s3_items: int, per_image: float) -> list[tuple[str, str]]:
    """Planning 19,584 items, then leasing them in batches of 8 on a folder, and a slice of them on S3."""
    from artifacts import claims
    from artifacts.store import Store
    from flows.evaluate import SHARD_SIZE
    from tasks.plan.prepare import prepare
    from tasks.stages import run as stages

    prompts = [f"parti-sized prompt {i}: a {['red', 'blue', 'green'][i % 3]} object number {i}" for i in range(PARTI_PROMPTS)]
    spec_path = write_yaml(root / "claims", spec_of(models, prompts, ["a", "b", "c"], {"steps": 25, "height": 512, "width": 512,
                                                                                        "seeds": SEEDS, "batch_size": BATCH}))
    folder = Store(root / "claims-store")
    started = time.perf_counter()
    prepared = prepare(spec_path, folder)
    batches = stages.missing_batches(folder, prepared, SHARD_SIZE)
    planning = time.perf_counter() - started
    items = [i for batch in batches for i in batch.items]

    def lease_all(store: Store, chosen: list) -> float:
        batches = [chosen[s : s + BATCH] for s in range(0, len(chosen), BATCH)]
        started = time.perf_counter()
        assert claims.work_claimed(store, "generate", batches, noop, lambda asked: set()) == len(chosen)
        return time.perf_counter() - started

    on_folder = lease_all(folder, items)
    on_s3 = lease_all(Store(s3_url), items[:s3_items]) * len(items) / s3_items
    gpu = len(items) * per_image
    return [("items planned", f"{len(items)} ({PARTI_PROMPTS} prompts x {len(SEEDS)} seeds x {CHECKPOINTS} checkpoints)"),
            ("planning (prepare + diff)", f"{planning:.1f} s  ({planning / gpu:.3%} of {gpu / 3600:.1f} GPU-hours at {per_image} s/image)"),
            ("leasing, folder", f"{on_folder:.1f} s  ({on_folder / gpu:.3%}; {on_folder / len(items) * 1e3:.2f} ms/item)"),
            ("leasing, moto S3", f"{on_s3:.1f} s scaled from {s3_items} items  ({on_s3 / gpu:.3%}; {on_s3 / len(items) * 1e3:.2f} ms/item)")]


def png_512(seed: int) -> bytes:
    """A 512x512 PNG about as compressible as a generated picture (a smooth field with mild noise)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:512, 0:512] / 512.0
    field = np.stack([np.sin(x * rng.uniform(2, 9) + rng.uniform(0, 6)) * np.cos(y * rng.uniform(2, 9)) for _ in range(3)], -1)
    pixels = ((field + 1) * 110 + rng.normal(0, 6, field.shape)).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def store_part(root: Path, s3_url: str, count: int) -> list[tuple[str, str]]:
    """ms per image of the store work around a generated batch: PNGs, one table part, and (with leases) their leases."""
    from artifacts import tables
    from artifacts.keys import sha256_bytes
    from artifacts import claims
    from artifacts.store import Store, image_rel

    pngs = [png_512(i) for i in range(8)]

    def write_batch(store: Store, batch: list[str]) -> None:
        rows = []
        for key in batch:
            data = pngs[hash(key) % len(pngs)]
            store.write_bytes(image_rel(key), data, durable=False)
            rows.append({"key": key, "sha256": sha256_bytes(data), "seconds": 0.0})
        tables.append(store, tables.GENERATIONS, rows)

    def side(store: Store, leased: bool) -> float:
        items = [uuid.uuid4().hex + uuid.uuid4().hex for _ in range(count)]
        batches = [items[s : s + BATCH] for s in range(0, count, BATCH)]
        started = time.perf_counter()
        if leased:
            claims.work_claimed(store, "generate", batches, lambda b: write_batch(store, b), lambda asked: set(), str)
        else:
            for batch in batches:
                write_batch(store, batch)
        return (time.perf_counter() - started) / count * 1e3

    folder_plain = side(Store(root / "store-plain"), False)
    folder_leased = side(Store(root / "store-leased"), True)
    s3 = side(Store(s3_url + "-images"), True)
    size = statistics.mean(len(p) for p in pngs) / 1024
    return [("folder, no leases (before)", f"{folder_plain:.2f} ms/image  (PNG {size:.0f} KiB, a table part per {BATCH})"),
            ("folder, with leases", f"{folder_leased:.2f} ms/image  ({folder_leased / folder_plain:.2f}x the path before leases)"),
            ("moto S3, with leases", f"{s3:.2f} ms/image  ({s3 / folder_leased:.1f}x the folder)")]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    root, models_dir = bench_setup(args, "bench-scale")
    parts = set(args.parts.split(","))
    from tasks.demo.tiny import build_tiny_models
    from tests.objectstore import MotoServer

    print(machine_line())
    models = build_tiny_models(models_dir)
    print(f"Prefect server warm-up: {warm_up_prefect():.1f} s (not timed)")
    import_everything()
    server = MotoServer() if parts & {"claims", "store"} else None
    try:
        if server:
            os.environ.update(server.env())
            bucket = server.make_bucket(f"bench-{uuid.uuid4().hex[:8]}")
            s3_url = f"s3://{bucket}/store"
        if "workers" in parts:
            print_table("workers: generation images/s (median of repeats; first pass per side loads pipelines, untimed)",
                        workers_part(models, root, args.images, args.repeats))
        if "claims" in parts:
            print_table("claims: planning and leasing a PartiPrompts-size run", claims_part(models, root, s3_url, args.s3_items,
                                                                                        args.seconds_per_image))
        if "store" in parts:
            print_table("store: per-image cost around the pipeline", store_part(root, s3_url, args.store_images))
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
