"""Inception feature throughput: the store's cached extraction (cold and warm) against torchmetrics' FID update loop.

Both sides read the same N small PNGs from one store and run the same FID Inception weights on
contiguous uint8 NCHW batches of the same size; decoding is inside both timed loops. Store cold
starts from an empty feature cache and computes every image; store warm finds everything cached
and must only read the cache (it checks that the model was never loaded). Each timed run is a
fresh subprocess, so its peak RSS (ru_maxrss) is its own; cold and torchmetrics runs alternate so
load from other processes hits both. Model loading and a 2-image warm-up forward are paid before
timing on both sides.

    OMP_NUM_THREADS=2 .venv/bin/python bench/features.py --sizes 256,2048 --threads 2
"""

from __future__ import annotations

import argparse
import io
import json
import math
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL_COLD, GOAL_WARM = 1.0, 20.0
SIDES = ("store-cold", "torchmetrics", "store-warm")
RESULT = "RESULT "


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,2048", help="comma-separated image counts N (default 256,2048)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of store-warm (median reported; default 3)")
    parser.add_argument("--cold-repeats", type=int, default=None,
                        help="timed runs of store-cold and torchmetrics (default: --repeats for N<1024, else 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads in every run (default 2)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward on both sides (default 32)")
    parser.add_argument("--image-size", type=int, default=32, help="side of the procedural PNGs (default 32)")
    parser.add_argument("--weights", default=None, help="FID Inception state dict (default: build a random-weight one)")
    parser.add_argument("--workdir", default=None,
                        help="folder for stores and weights, kept and reused (default: a temp dir, removed)")
    parser.add_argument("--profile", action="store_true", help="print the top cProfile entries of each timed loop")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="print the top Python allocation sites of each timed loop")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---- data (parent) -----------------------------------------------------------------------------

def make_images(root: Path, n: int, size: int) -> dict[str, str]:
    """N distinct procedural PNGs in Store(root/store) under refs/; return {sha256: rel} (kept in manifest.json)."""
    from artifacts.store import Store, ref_rel
    from tasks.inputs.references import procedural_reference_set

    manifest = root / "manifest.json"
    if manifest.is_file():
        return json.loads(manifest.read_text())
    store, shas_to_rel = Store(root / "store"), {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = procedural_reference_set(Path(scratch), per_class=math.ceil(n / 10), size=size)
        for path in sorted(folder.rglob("*.png"))[:n]:
            data = path.read_bytes()
            sha = store.write_bytes(ref_rel(_sha(data)), data)
            shas_to_rel[sha] = ref_rel(sha)
    if len(shas_to_rel) != n:
        sys.exit(f"features bench: {len(shas_to_rel)} distinct images for N={n}; images must be distinct")
    manifest.write_text(json.dumps(shas_to_rel))
    return shas_to_rel


def _sha(data: bytes) -> str:
    from artifacts.keys import sha256_bytes

    return sha256_bytes(data)


def bench_spec(weights: str):
    """A class-conditional spec whose only roles here are the preprocessing (none: 32x32 goes in as is) and weights."""
    from tasks.spec import spec_from_dict

    return spec_from_dict({
        "name": "bench-features", "task": "class-conditional", "classes": {"ids": [0]},
        "models": [{"name": "unused", "path": "unused"}],
        "reference": {"path": "unused", "center_crop": None},
        "metrics": {"fid": {}, "kid": {}, "is": {}, "inception_weights": weights},
    })


# ---- one timed run (worker subprocess) -----------------------------------------------------------

def worker(args: argparse.Namespace) -> dict:
    """Set up one side untimed, time its loop over every image once, return seconds and RSS figures."""
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REPO))
    root = Path(args.root)
    shas_to_rel = json.loads((root / "manifest.json").read_text())
    run = {"store-cold": _store_side, "store-warm": _store_side, "torchmetrics": _torchmetrics_side}[args.worker]
    loop = run(args, root, shas_to_rel)
    rss_before, cpu_before = _max_rss_mib(), _cpu_seconds()
    started = time.perf_counter()
    counts = _instrumented(loop, args)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu_before, "rss_mib": _max_rss_mib(),
            "loop_rss_mib": _max_rss_mib() - rss_before, **counts}


def _store_side(args: argparse.Namespace, root: Path, shas_to_rel: dict[str, str]):
    import numpy as np

    from artifacts.store import Store
    from artifacts.tables import features_table
    from tasks.extractors import inception
    from tasks.extractors.registry import Job, run_job

    store, spec, n = Store(root / "store"), bench_spec(args.weights), len(shas_to_rel)
    # pq.read_table imports pyarrow.dataset (and pandas) on first use: ~0.5 s once per process, not throughput.
    import pyarrow.dataset  # noqa: F401
    # Hashing the weights file is memoized per process: paid here, as the first of many runs would.
    weights = inception.spec_weights(spec)
    extractor = inception.inception_extractor(weights, inception.spec_preprocess(spec), "cpu", {}, args.batch_size)
    if args.worker == "store-cold":
        shutil.rmtree(store.path(f"tables/{features_table(extractor.fingerprint)}"), ignore_errors=True)
        model = inception.cached_inception(weights, "cpu")
        inception.uint8_to_inception_features(model, np.zeros((2, args.image_size, args.image_size, 3), np.uint8))

    def loop() -> dict:
        extracted, reused = run_job(store, Job(extractor, shas_to_rel))
        expected = (n, 0) if args.worker == "store-cold" else (0, n)
        if (extracted, reused) != expected:
            sys.exit(f"features bench: {args.worker} extracted {extracted}, reused {reused}; expected {expected}")
        if args.worker == "store-warm" and inception.cached_inception.cache_info().currsize:
            sys.exit("features bench: store-warm loaded the Inception model; a warm run must only read the cache")
        return {"extracted": extracted, "reused": reused}

    return loop


def _torchmetrics_side(args: argparse.Namespace, root: Path, shas_to_rel: dict[str, str]):
    import numpy as np
    import torch
    from PIL import Image
    from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3

    from artifacts.store import Store

    store, rels = Store(root / "store"), list(shas_to_rel.values())
    fid = FrechetInceptionDistance(feature=NoTrainInceptionV3(
        name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=args.weights))
    fid.update(torch.zeros((2, 3, args.image_size, args.image_size), dtype=torch.uint8), real=True)
    fid.reset()

    def loop() -> dict:
        for start in range(0, len(rels), args.batch_size):
            arrays = [np.asarray(Image.open(io.BytesIO(store.read_bytes(rel))).convert("RGB"))
                      for rel in rels[start : start + args.batch_size]]
            fid.update(torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous(), real=True)
        return {"extracted": int(fid.real_features_num_samples), "reused": 0}

    return loop


def _instrumented(loop, args: argparse.Namespace) -> dict:
    """Run the loop, under cProfile and/or tracemalloc when asked (their reports go to stderr)."""
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(10)
    if args.profile:
        from bench.common import profile, top_entries

        result = {}
        profiler = profile(lambda: result.update(loop()))
        print(f"--- cProfile {args.worker} N={len(json.loads((Path(args.root) / 'manifest.json').read_text()))}",
              top_entries(profiler, "cumulative", 25), sep="\n", file=sys.stderr)
    else:
        result = loop()
    if args.tracemalloc:
        current, peak = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        print(f"--- tracemalloc {args.worker}: Python heap now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB",
              *[str(s) for s in snapshot.statistics("lineno")[:10]], sep="\n", file=sys.stderr)
    return result


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _cpu_seconds() -> float:
    """User + system CPU time of this process: less moved than wall time by other load on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- the parent: spawn runs, print the table --------------------------------------------------------

def spawn(args: argparse.Namespace, side: str, root: Path) -> dict:
    """One timed run of `side` in a fresh interpreter; its stderr (profiles, errors) passes through."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--root", str(root),
               "--threads", str(args.threads), "--batch-size", str(args.batch_size),
               "--image-size", str(args.image_size), "--weights", args.weights]
    command += ["--profile"] * args.profile + ["--tracemalloc"] * args.tracemalloc
    done = subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if not lines:
        sys.exit(f"features bench: {side} run failed (exit {done.returncode}); its error is above")
    if done.returncode != 0:  # the measurement was printed; a crash at interpreter exit does not void it
        print(f"features bench: {side} run exited {done.returncode} after reporting its result", file=sys.stderr)
    return json.loads(lines[-1].removeprefix(RESULT))


def bench_size(args: argparse.Namespace, n: int, workdir: Path) -> list[dict]:
    """Every side at one N: cold and torchmetrics alternating, then warm; one row per side."""
    root = workdir / f"n{n}"
    root.mkdir(parents=True, exist_ok=True)
    make_images(root, n, args.image_size)
    cold_repeats = args.cold_repeats or (args.repeats if n < 1024 else 1)
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    for _ in range(cold_repeats):
        for side in ("store-cold", "torchmetrics"):
            runs[side].append(spawn(args, side, root))
            print(f"  N={n} {side}: {runs[side][-1]['seconds']:.2f} s", file=sys.stderr, flush=True)
    for _ in range(args.repeats):  # the last cold run left every image's features in the cache
        runs["store-warm"].append(spawn(args, "store-warm", root))
    base = statistics.median(r["seconds"] for r in runs["torchmetrics"])
    base_cpu = statistics.median(r["cpu_seconds"] for r in runs["torchmetrics"])
    rows = []
    for side, results in runs.items():
        seconds, cpu = (statistics.median(r[k] for r in results) for k in ("seconds", "cpu_seconds"))
        rows.append({"n": n, "side": side, "seconds": seconds, "per_s": n / seconds, "ratio": base / seconds,
                     "cpu": cpu, "cpu_ratio": base_cpu / cpu,
                     "rss": max(r["rss_mib"] for r in results), "loop_rss": max(r["loop_rss_mib"] for r in results),
                     "all": [round(r["seconds"], 2) for r in results]})
    return rows


def print_report(rows: list[dict], args: argparse.Namespace) -> None:
    import os
    import platform

    import torch

    print(f"\nInception features: {platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}, "
          f"batch {args.batch_size}, {args.image_size}x{args.image_size} PNGs, torch {torch.__version__}")
    header = (f"{'N':>5}  {'side':<13} {'seconds':>9} {'images/s':>9} {'vs tm':>8} {'CPU s':>8} {'CPU vs tm':>9} "
              f"{'peak RSS MiB':>12} {'loop +MiB':>9}  runs (s)")
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['n']:>5}  {r['side']:<13} {r['seconds']:>9.3f} {r['per_s']:>9.1f} {r['ratio']:>7.2f}x "
              f"{r['cpu']:>8.2f} {r['cpu_ratio']:>8.2f}x {r['rss']:>12.0f} {r['loop_rss']:>9.0f}  {r['all']}")
    for n in sorted({r["n"] for r in rows}):
        ratio = {r["side"]: r["ratio"] for r in rows if r["n"] == n}
        cpu = {r["side"]: r["cpu_ratio"] for r in rows if r["n"] == n}
        verdict = _cold_verdict(ratio["store-cold"], [r for r in rows if r["n"] == n])
        print(f"N={n}: cold {ratio['store-cold']:.2f}x wall, {cpu['store-cold']:.2f}x CPU (goal >= {GOAL_COLD}x) "
              f"{verdict}; warm {ratio['store-warm']:.1f}x "
              f"(goal >= {GOAL_WARM}x) {'ok' if ratio['store-warm'] >= GOAL_WARM else 'MISSED'}")
    sizes = sorted({r["n"] for r in rows})
    if len(sizes) > 1:
        for side in SIDES:
            rss = {r["n"]: r["rss"] for r in rows if r["side"] == side}
            print(f"peak RSS {side}: " + ", ".join(f"N={n}: {rss[n]:.0f} MiB" for n in sizes)
                  + f" (growth {rss[sizes[-1]] - rss[sizes[0]]:+.0f} MiB)")


def _cold_verdict(ratio: float, rows: list[dict]) -> str:
    """ok / MISSED, saying when a miss is smaller than the run-to-run spread (noise on a shared machine)."""
    if ratio >= GOAL_COLD:
        return "ok"
    runs = next(r["all"] for r in rows if r["side"] == "torchmetrics")
    spread = (max(runs) - min(runs)) / statistics.median(runs)
    return f"MISSED, within the {spread:.0%} run-to-run spread" if 1 - ratio < spread else "MISSED"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    if args.worker:
        print(RESULT + json.dumps(worker(args)), flush=True)
        return
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        sys.exit(f"--sizes {args.sizes}: not comma-separated integers; pass e.g. --sizes 256,2048")
    if not sizes or min(sizes) < 2 or args.batch_size < 1 or args.threads < 1:
        sys.exit("--sizes, --batch-size, --threads: need N >= 2, batch >= 1, threads >= 1")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-features-")).resolve()
    try:
        if args.weights is None:
            args.weights = str(workdir / "inception.pth")
            if not Path(args.weights).is_file():
                from tasks.demo.tiny import build_tiny_inception

                build_tiny_inception(Path(args.weights))
        rows: list[dict] = []
        for n in sizes:  # the table so far after each N: a long N=2048 run keeps what it has measured
            rows += bench_size(args, n, workdir)
            print_report(rows, args)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
