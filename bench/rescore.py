"""Re-scoring benchmark: a cold run of the evaluation flow against warm runs of the same spec on the same store.

A warm run must generate nothing and extract nothing (the store is the cache), so it should be at
least 20x faster than the cold run. Everything runs in one process: imports and the Prefect
ephemeral server start are paid once, before timing, by a trivial warm-up flow.

    OMP_NUM_THREADS=1 .venv/bin/python bench/rescore.py --threads 1 --repeats 3
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    bench_parser, bench_setup, forget_weight_hashes, import_everything, machine_line, print_profile, print_table, timed,
    tiny_spec, warm_up_prefect, write_spec,
)

GOAL_SPEEDUP = 20.0


def warm_stage_times(spec_path: str, store_root: Path) -> list[tuple[str, float]]:
    """The warm run's task bodies (each task's .fn, no Prefect) in the flow's order, each timed (a warm run has no
    generate or extract task: prepare-and-plan finds every image and feature in the store)."""
    from flows import evaluate as flow
    from artifacts.run_ids import new_run_id

    root = str(store_root)
    forget_weight_hashes()
    out = []
    seconds, (prepared, todo, in_store) = timed(flow.prepare_task.fn, spec_path, root)
    assert not todo and in_store is not None, "warm store still has missing images or features"
    out.append(("prepare-and-plan task (spec, prompts, fingerprints, keys, verify PNGs, feature lookup)", seconds))
    counts, rows = in_store
    counts |= {"images_planned": len(prepared.items), "images_generated": 0, "images_reused": len(prepared.items)}
    seconds, _ = timed(flow.score_task.fn, root, prepared, rows, new_run_id(prepared.spec.name), counts)
    out.append(("score-and-report task (scores, bootstrap, run folder, report)", seconds))
    return out


def check_counts(summary: dict, label: str, generated: int | None, extracted: int | None) -> None:
    """Stop with a clear message when a run did not do the work (or did work) it should have."""
    counts = summary["counts"]
    if generated is not None and counts["images_generated"] != generated:
        sys.exit(f"rescore: {label} run generated {counts['images_generated']} images, expected {generated}: {counts}")
    if extracted is not None and counts["features_extracted"] != extracted:
        sys.exit(f"rescore: {label} run extracted {counts['features_extracted']} features, expected {extracted}: {counts}")


def cli_settings():
    """The Prefect settings `diffeval run` uses (flows.app.cli.run_spec): flow heartbeats off."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def warm_runs(evaluate: Callable, spec_path: str, store: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of warm runs with Prefect's defaults and with flow heartbeats off, interleaved so load noise hits both."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # Prefect's heartbeat thread sleeps in 1 s steps and the flow joins it on exit: up to 1 s per run.
    default, quiet = [], []
    for _ in range(repeats):
        for updates, out in (({}, default), ({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}, quiet)):
            with temporary_settings(updates=updates):
                forget_weight_hashes()
                seconds, summary = timed(evaluate, spec_path=spec_path, store=str(store))
            check_counts(summary, "warm", 0, 0)
            out.append(seconds)
    return default, quiet


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="also cProfile one warm run (done anyway when the goal is missed)")
    args = parser.parse_args(argv)
    store_root, models_dir = bench_setup(args, "rescore")
    from tasks.demo.tiny import build_tiny_models

    models = build_tiny_models(models_dir)
    spec_path = write_spec(store_root / "specs", tiny_spec("bench-rescore", models, ["sd-a", "sd-b"], [0, 1], None))
    store = Path(tempfile.mkdtemp(prefix="store-", dir=store_root))  # empty even when --store is reused
    import_seconds, _ = timed(import_everything)
    from flows.local_server import local_api, prefect_home, read_record, stop_server

    home = prefect_home()
    before, started = read_record(home), time.perf_counter()
    try:
        with local_api():  # the Prefect API `diffeval run` uses with no PREFECT_API_URL: the local server
            return timed_main(args, spec_path, store, import_seconds, started)
    finally:
        if read_record(home) not in (None, before):  # only a server this bench started
            stop_server(home)


def timed_main(args, spec_path: str, store: Path, import_seconds: float, started: float) -> int:
    """The timed part of main, against the Prefect API already chosen (at `started`)."""
    warm_up_prefect()
    server_seconds = time.perf_counter() - started
    from flows.evaluate import evaluate

    print(machine_line(), file=sys.stderr)
    forget_weight_hashes()
    with cli_settings():
        cold, summary = timed(evaluate, spec_path=spec_path, store=str(store))
    planned = summary["counts"]["images_planned"]
    check_counts(summary, "cold", planned, None)
    warm, quiet = warm_runs(evaluate, spec_path, store, args.repeats)
    stages = warm_stage_times(spec_path, store)
    median, median_quiet = statistics.median(warm), statistics.median(quiet)
    verdict = "met" if cold / median_quiet >= GOAL_SPEEDUP else "MISSED"
    print_table("rescore: cold vs warm run of flows.evaluate.evaluate (one process)", [
        ("images planned (2 models x 25 prompts x 2 seeds, 64x64, 4 steps)", str(planned)),
        ("imports; local Prefect server start, then a warm-up flow (excluded)", f"{import_seconds:.2f} s, {server_seconds:.2f} s"),
        ("cold run (empty store), as `diffeval run` runs it (heartbeats off)", f"{cold:.2f} s"),
        (f"warm run, as `diffeval run` runs it, median of {len(quiet)}", f"{median_quiet:.3f} s  ({', '.join(f'{s:.3f}' for s in quiet)})"),
        ("cold / warm", f"{cold / median_quiet:.1f}x  (goal >= {GOAL_SPEEDUP:.0f}x: {verdict})"),
        (f"warm run with Prefect's default heartbeats, median of {len(warm)}", f"{median:.3f} s  ({', '.join(f'{s:.3f}' for s in warm)})"),
    ])
    total = sum(s for _, s in stages)
    print_table("warm run by stage (task bodies called directly: each @task .fn, no Prefect)", [
        *((label, f"{seconds:.3f} s") for label, seconds in stages), ("sum of stages", f"{total:.3f} s"),
        ("Prefect + flow glue: warm median - sum", f"{median - total:.3f} s"),
        ("Prefect + flow glue, heartbeats off", f"{median_quiet - total:.3f} s")])
    if args.profile or verdict == "MISSED":
        print_profile(lambda: evaluate(spec_path=spec_path, store=str(store)),
                      "one warm run with Prefect's defaults (main thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
