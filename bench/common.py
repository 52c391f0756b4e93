"""What the benchmarks share: arguments, set-up, the tiny spec, timing, tables and profiles."""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
TINY_GENERATION = {"steps": 4, "guidance_scale": 7.5, "height": 64, "width": 64, "images_per_prompt": 1,
                   "batch_size": 8, "dtype": "float32", "device": "auto"}


def bench_parser(description: str, repeats: int = 3) -> argparse.ArgumentParser:
    """The arguments every CPU benchmark takes: --store, --repeats, --threads, --models."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store", default=None, help="store folder (default: a fresh temp dir)")
    parser.add_argument("--repeats", type=int, default=repeats, help=f"timed repeats (default {repeats}); the median is reported")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--models", default=None, help="folder for the tiny models (default: a temp dir; reused when built)")
    return parser


def extractor_bench_parser(description: str, n: int = 8, models: str = "the full-size models") -> argparse.ArgumentParser:
    """The arguments the extractor benches share (new_metrics, quality_metrics, compositional): --models, -n,
    --image-size, --batch-size, --repeats."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", default=None, help=f"where {models} are built and reused (default: a temp dir)")
    parser.add_argument("-n", type=int, default=n, help=f"images per timed run (default {n})")
    parser.add_argument("--image-size", type=int, default=256, help="side of the procedural PNGs (default 256)")
    parser.add_argument("--batch-size", type=int, default=8, help="images per forward on both sides (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (median reported; default 3)")
    return parser


def bench_setup(args: argparse.Namespace, prefix: str) -> tuple[Path, Path]:
    """Environment before Prefect is imported, torch threads, and the (store, models) folders."""
    # Prefect reads its settings at import time: these must be set before anything imports it.
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix=f"{prefix}-prefect-"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")  # as the CLI does
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # as the CLI: 20 s is short here
    sys.path.insert(0, str(REPO))
    import torch

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    store = Path(args.store or tempfile.mkdtemp(prefix=f"{prefix}-store-")).resolve()
    models = Path(args.models or tempfile.mkdtemp(prefix=f"{prefix}-models-")).resolve()
    return store, models


def machine_line() -> str:
    """One line saying where the figures come from."""
    import platform

    import torch

    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
            f"cuda {'yes' if torch.cuda.is_available() else 'no'}, PREFECT_HOME={os.environ['PREFECT_HOME']}")


def warm_up_prefect() -> float:
    """Run a trivial flow so the ephemeral API server starts now, not inside a timed run; return its seconds."""
    from prefect import flow

    @flow(name="bench-warm-up")
    def warm_up() -> int:
        return 1

    started = time.perf_counter()
    warm_up()
    return time.perf_counter() - started


def import_everything() -> None:
    """Import what the flow imports lazily (and write one Parquet part), so no timed run pays imports."""
    import diffusers
    import matplotlib.backends.backend_agg  # noqa: F401 (the cold run's forest plots; kept, warm runs draw none)
    import matplotlib.figure  # noqa: F401
    import scipy.special  # noqa: F401 (verdicts' quantiles)
    import transformers

    import flows.evaluate  # noqa: F401
    import tasks.stages.run  # noqa: F401
    from artifacts import tables
    from artifacts.store import Store

    _ = (diffusers.StableDiffusionPipeline, transformers.CLIPModel, transformers.CLIPProcessor)
    # pyarrow imports pandas on the first Parquet write of a process (~0.4 s): pay that here too.
    tables.append(Store(tempfile.mkdtemp(prefix="bench-warm-up-")), "warm-up", [{"a": 1}])


def tiny_spec(name: str, models: dict[str, Path], model_names: list[str], seeds: list[int], prompt_limit: int | None) -> dict:
    """A text-to-image spec on the built-in prompts with the tiny models, 64x64, 4 steps, CLIP score."""
    prompts: dict = {"source": "builtin"}
    if prompt_limit:
        prompts["limit"] = prompt_limit
    return {"name": name, "task": "text-to-image", "prompts": prompts,
            "models": [{"name": f"tiny-{m}", "path": str(models[m])} for m in model_names],
            "generation": {**TINY_GENERATION, "seeds": seeds},
            "metrics": {"clip_score": {"model": str(models["clip"]), "batch_size": 32}}}


def write_spec(folder: Path, spec: dict) -> str:
    """Write the spec as YAML beside the stores; return its path."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


def forget_weight_hashes() -> None:
    """Drop the per-process memo of weight-file hashes, so each run fingerprints models as a new process would
    (which finds the large files' hashes in the machine's hash cache, artifacts/keys.py, and reads the small ones)."""
    from artifacts import keys

    keys._file_sha256.cache_clear()


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column plain-text table on stdout."""
    width = max(len(label) for label, _ in rows)
    print(f"\n{title}")
    print("-" * (width + 22))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def profile(fn: Callable) -> cProfile.Profile:
    """Run fn under cProfile; only its own thread is seen (a task submitted to a pool shows as a wait)."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    return profiler


def top_entries(profiler: cProfile.Profile, sort: str, limit: int, repo_only: bool = False) -> str:
    """The top entries as text: everything (file names only), or only this repo's functions (paths from its root)."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    if repo_only:
        stats.sort_stats(sort).print_stats(f"^{REPO}/(tasks|artifacts|flows)/", limit)
    else:
        stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return out.getvalue().replace(f"{REPO}/", "")


def print_profile(fn: Callable, what: str, own: int = 25, repo: int = 20) -> None:
    """cProfile one call of fn and print its top entries by own time, then this repo's by cumulative time."""
    stats = profile(fn)
    print(f"\ncProfile of {what}, by own time:")
    print(top_entries(stats, "tottime", own))
    print("the same run, this repo's functions by cumulative time:")
    print(top_entries(stats, "cumulative", repo, repo_only=True))


def make_pngs(n: int, size: int) -> list[tuple[str, bytes]]:
    """N distinct procedural PNGs as (sha256, bytes): the extractor benches' inputs."""
    from artifacts.keys import sha256_bytes
    from tasks.inputs.references import procedural_reference_set

    with tempfile.TemporaryDirectory() as scratch:
        paths = sorted(procedural_reference_set(Path(scratch), per_class=-(-n // 10), size=size).rglob("*.png"))[:n]
        return [(sha256_bytes(p.read_bytes()), p.read_bytes()) for p in paths]


def pil_image(data: bytes):
    """PNG bytes decoded as the references decode files: PIL, RGB."""
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGB")


def print_rates(name: str, count: int, times: dict[str, list[float]], width: int = 10) -> None:
    """One row of an ours-against-bare table: items/s of each side (medians), their ratio, every timed run."""
    import statistics

    rate = {side: count / statistics.median(ts) for side, ts in times.items()}
    runs = " ".join(f"{t:.2f}" for t in times["ours"]) + " | " + " ".join(f"{t:.2f}" for t in times["bare"])
    print(f"{name:<{width}} {rate['ours']:>10.2f} {rate['bare']:>10.2f} {rate['ours'] / rate['bare']:>9.3f}  {runs}", flush=True)
