"""`diffeval`: run, demo, inspect, accept, models tiny, serve, sets. Bad input → one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect gives its temporary server 20 s to start; a busy 2-core machine was seen to need more.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# `run` and `demo` log to the terminal; sending each line to Prefect's temporary server too only costs
# time. Against a running server (PREFECT_API_URL) they log to its API as well (`run_spec`), and flow
# runs that `serve` starts inherit this environment and must log to the API (the UI shows them).
API_LOGS_OFF_HERE = "PREFECT_LOGGING_TO_API_ENABLED" not in os.environ
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")

from artifacts.errors import BadInput  # noqa: E402
from flows.app.arena_cli import add_arena_parser, run_arena  # noqa: E402

EXIT_BAD_INPUT = 2
EXIT_REGRESSION = 1
# `inspect history` in a terminal: fingerprints, settings and the baseline stay in --json.
HISTORY_SHOWN = ["run_id", "created", "spec", "model", "metric", "group", "value", "ci_low", "ci_high", "n", "verdict", "run_verdict"]
# Commands that run flows: SIGINT / SIGTERM end them at once, leaving nothing behind (flows/app/interrupt.py).
INTERRUPTIBLE = {"run", "demo"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffeval", description="Evaluate and compare diffusion models.")
    sub = parser.add_subparsers(dest="command", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", default=None, help="store folder or fsspec URL, e.g. s3://bucket/prefix (default $DIFFEVAL_STORE or ./.diffeval)")
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--json", action="store_true", help="print one JSON object on stdout: run → the run summary; demo → {\"runs\": [summary, ...]}; "
                     "inspect → {\"store\", \"run_id\", \"rows\": [...]} (NaN as null)")
    run = sub.add_parser("run", parents=[store, out], help="evaluate the models of an EvalSpec YAML file")
    run.add_argument("spec", help="EvalSpec YAML file (relative paths in it resolve against its folder)")
    _runner_options(run)
    sub.add_parser("demo", parents=[store, out], help="build tiny models and run the built-in comparison")
    inspect = sub.add_parser("inspect", parents=[store, out], help="list runs, images, scores, metrics, pairs")
    inspect.add_argument("what", choices=["runs", "images", "scores", "metrics", "pairs", "votes", "history"],
                         help="runs: the run registry; images, scores (per image), metrics, pairs (edits): of one run; "
                         "votes: the arena's stored votes; history: every run's metric rows with its verdicts")
    inspect.add_argument("--run", default=None, help="run id, id prefix or spec name (its latest run) (default: the latest run)")
    inspect.add_argument("--spec", default=None, help="history: only the runs of this spec name")
    inspect.add_argument("--metric", default=None, help="history: only this metric (such as clip_score)")
    accept = sub.add_parser("accept", parents=[store], help="accept a run as its spec's new regression baseline")
    accept.add_argument("run", help="run id, id prefix or spec name (its latest run; see `diffeval inspect runs`)")
    accept.add_argument("--by", required=True, help="who accepts it (recorded with the run)")
    accept.add_argument("--why", required=True, help="why its values are the new normal (recorded with the run)")
    models = sub.add_parser("models", help="build models")
    models.add_argument("kind", choices=["tiny"], help="tiny: random-weight SD, img2img, InstructPix2Pix, DiT and CLIP "
                        "models (about 5 MB each) and an FID Inception (92 MB), built here with no download")
    models.add_argument("--out", required=True, help="folder to build them in, one sub-folder per model (reused "
                        "when already built); a spec names them by path, e.g. DIR/sd-a")
    serve = sub.add_parser("serve", parents=[store], help="serve the evaluation as a scheduled Prefect deployment")
    serve.add_argument("spec", help="EvalSpec YAML file each scheduled run evaluates")
    serve.add_argument("--cron", default="0 2 * * *", help='cron schedule, UTC (default "0 2 * * *": 02:00 every night)')
    serve.add_argument("--name", default="nightly-serve", help="deployment name shown in the Prefect UI (default: nightly-serve; "
                       "a name a work-pool deployment has is refused)")
    sets = sub.add_parser("sets", parents=[store, out], help="FID, KID, IS (every registered set metric) between two sets of "
                          "images: folders, manifests, datasets, stats:NAME or .npz statistics")
    sets.add_argument("a", help="the reference set: a folder, a manifest (.csv .jsonl .parquet), a hub dataset id or dataset "
                      "folder, stats:NAME (saved with --save-stats) or a pytorch-fid / clean-fid .npz (FID only)")
    sets.add_argument("b", nargs="?", default=None, help="the set to score against A (the same kinds); leave out with --save-stats")
    sets.add_argument("--metric", action="append", default=[], help="a registered set metric (repeatable; default: fid, kid, is)")
    sets.add_argument("--save-stats", default=None, metavar="NAME", help="save A's statistics under NAME in the store "
                      "(reuse them as stats:NAME; the .npz of its Inception mu and sigma is written too)")
    sets.add_argument("--spec", default=None, help="take the metric settings, Inception weights and preprocessing from this "
                      "EvalSpec's metrics and reference sections (so the values compare with its runs)")
    sets.add_argument("--inception-weights", default=None, help="the FID Inception state dict (default: the spec's, else the download)")
    sets.add_argument("--center-crop", default=None, type=lambda v: v if v == "none" else int(v),
                      help="center crop size or none (default: the spec's, else none)")
    sets.add_argument("--resize", default=None, choices=["none", "clean", "legacy"], help="resize mode (default: the spec's, else none)")
    sets.add_argument("--resize-to", default=None, type=int, help="resize target (default 299 with a resize mode)")
    sets.add_argument("--small", default=None, choices=["error", "upscale", "skip"], help="images smaller than the crop")
    server = sub.add_parser("server", help="the local Prefect server that runs use when no PREFECT_API_URL is set")
    server.add_argument("action", choices=["status", "stop"], help="status: where it is and whether it answers; "
                        "stop: stop it (the next run starts it again)")
    add_arena_parser(sub, store)
    return parser


def _runner_options(run: argparse.ArgumentParser) -> None:
    """--runner/--workers/--address: override the spec's `runner:` for this run."""
    run.add_argument("--runner", choices=["thread", "dask", "ray"], default=None,
                     help="where generation and extraction batches run (default: the spec's runner.kind, else thread)")
    run.add_argument("--workers", type=int, default=None, help="workers (default: one per GPU, else 1)")
    run.add_argument("--address", default=None, help="an existing Dask scheduler (tcp://host:8786) or Ray cluster (ray://host:10001)")


def _runner_override(args: argparse.Namespace) -> dict:
    return {"kind": args.runner, "workers": args.workers, "address": args.address}


def run_spec(spec_path: str, store: str | None, runner: dict | None = None) -> dict:
    """Check the spec outside Prefect (bad input fails fast, nothing written), then run the flow on what was checked."""
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_LOGGING_TO_API_ENABLED, temporary_settings

    from artifacts.store import Store
    from flows.evaluate import evaluate
    from flows.app.quiet import quiet_one_line_errors
    from flows.local_server import local_api
    from flows.runners import runner_settings
    from tasks.plan.prepare import prepare
    from tasks.spec import load_spec

    checked = Store(store)
    checked.check_writable()  # the store folder itself is made only by the first write
    runner_settings(load_spec(spec_path).runner, runner)  # a bad --runner/--workers: one line, before prepare writes
    prepared = prepare(spec_path, checked)
    quiet_one_line_errors()
    # Heartbeats detect crashed runs of deployments (`serve` keeps them). For a run started here the
    # process itself reports a crash, and the heartbeat thread, sleeping in 1 s steps, would add up to
    # a second to every run's exit.
    with local_api():  # no PREFECT_API_URL: the local server, started once and reused (flows/local_server.py)
        updates = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        if API_LOGS_OFF_HERE and PREFECT_API_URL.value():  # a server that outlives the run: the UI shows its log lines
            updates[PREFECT_LOGGING_TO_API_ENABLED] = True
        with temporary_settings(updates=updates):
            return evaluate(spec_path=spec_path, store=store, prepared=prepared, runner=runner)


def _print_summary(summary: dict, as_json: bool) -> None:
    from flows.app.terminal import print_json, print_summary, summary_object

    if as_json:
        print_json(summary_object(summary))
    else:
        print_summary(summary)


def _inspect(args: argparse.Namespace) -> None:
    """Rows of the store or of one run; an empty result is said on stderr, and reading creates nothing."""
    from artifacts import inspect
    from flows.app.terminal import print_json, print_metric_rows, print_rows, print_variants
    from tasks.values.names import METRIC_COLUMNS

    for flag in ("spec", "metric"):
        if getattr(args, flag) is not None and args.what != "history":
            raise BadInput(f"--{flag}: only `inspect history` takes it; drop it, or run `diffeval inspect history --{flag} ...`")
    store = inspect.existing_store(args.store)
    # runs, history and votes are store-wide (votes of one run with --run); the rest are of one run, the latest by default.
    store_wide = args.what in ("runs", "history") or (args.what == "votes" and args.run is None)
    run_id = None if store_wide else inspect.resolve_run(store, args.run)
    if args.what == "history":
        rows = inspect.history(store, args.spec, args.metric)
    else:
        rows = _runs(store) if args.what == "runs" else getattr(inspect, args.what)(store, run_id)
    if not rows:
        print(f"diffeval: {inspect.empty_note(store, args.what, run_id)}", file=sys.stderr)
    if args.json:
        print_json({"store": str(store.root), **({"run_id": run_id} if run_id else {}), "rows": rows})
        return
    variants = inspect.variants(store, run_id) if run_id else []
    # Metric rows also carry their sweep cell and FID recipe: those stay in --json, off the table.
    columns = list(METRIC_COLUMNS) if args.what == "metrics" else HISTORY_SHOWN if args.what == "history" else None
    if args.what == "runs" and rows:  # provenance (versions, device, lock) is a nested record: --json has it
        columns = [k for k in rows[0] if k != "provenance"]
    title = f"{args.what} of run {run_id}" if run_id else f"{args.what} in {store.root}"
    show = print_metric_rows if args.what == "metrics" else print_rows  # metrics: less per-group sets on too few images
    print_variants(variants, show(rows, title, variants, columns))


def _runs(store) -> list[dict]:
    """`inspect runs`: the registry with who accepted which run as its spec's baseline."""
    from artifacts import inspect
    from tasks.reporting.baselines import acceptances

    return inspect.runs(store, acceptances(store))


def _sets(args: argparse.Namespace) -> None:
    """`diffeval sets A B`: the set metrics between two sets; features cached in the store like a run's."""
    from pathlib import Path

    from artifacts.store import Store
    from flows.app.terminal import print_json, print_rows
    from tasks.stages.set_against_set import COLUMNS, SetsRequest, sets_to_rows

    store = Store(args.store)
    store.check_writable()
    weights = str(Path(args.inception_weights).expanduser().resolve()) if args.inception_weights else None
    request = SetsRequest(a=args.a, b=args.b, metrics=tuple(args.metric), save_stats=args.save_stats, spec=args.spec,
                          inception_weights=weights, center_crop=args.center_crop, resize=args.resize,
                          resize_to=args.resize_to, small=args.small)
    if args.b is None and args.save_stats is None:
        from artifacts.errors import BadInput

        raise BadInput("diffeval sets: give two sets (A B), or one with --save-stats NAME")
    result = sets_to_rows(store, request)
    if args.json:
        print_json({"store": str(store.root), **result})
        return
    print_rows(result["rows"], f"{args.a} against {args.b}", columns=COLUMNS)
    if "saved" in result:
        print(f"saved {args.a} as stats:{result['saved']['name']} ({result['saved']['n']} images; npz: {result['saved']['npz']})")
    print(f"counts: {json.dumps(result['counts'])}", file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        _print_summary(run_spec(args.spec, args.store, _runner_override(args)), args.json)
    elif args.command == "demo":
        from flows.demo import write_demo_spec
        from flows.app.terminal import print_json, print_summary, summary_object

        paths = write_demo_spec(args.store)
        if args.json:
            print_json({"runs": [summary_object(run_spec(path, args.store)) for path in paths]})
        else:
            for path in paths:
                print_summary(run_spec(path, args.store))
    elif args.command == "inspect":
        _inspect(args)
    elif args.command == "accept":
        from artifacts import inspect
        from tasks.reporting.baselines import accept_run

        store = inspect.existing_store(args.store)
        record = accept_run(store, inspect.resolve_run(store, args.run), args.by, args.why)
        print(f"{record['run_id']}: now the baseline of spec {record['name']} (accepted by {record['by']}: {record['why']})")
    elif args.command == "models":
        from tasks.demo.tiny import build_tiny_models

        for name, path in build_tiny_models(args.out).items():
            print(f"{name}: {path}")
    elif args.command == "serve":
        from flows.deploy import serve

        if API_LOGS_OFF_HERE:
            os.environ.pop("PREFECT_LOGGING_TO_API_ENABLED", None)
        serve(args.spec, args.cron, args.name, args.store)
    elif args.command == "server":
        from flows.local_server import prefect_home, server_status, stop_server

        print(stop_server(prefect_home()) if args.action == "stop" else server_status(prefect_home()))
    elif args.command == "sets":
        _sets(args)
    elif args.command == "arena":
        return run_arena(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="diffeval: %(levelname)s: %(message)s", stream=sys.stderr)
    from flows.run_logs import keep_summary_off_terminal

    keep_summary_off_terminal()  # the flow logs its closing lines for the Prefect UI; the terminal gets print_summary
    from flows.app.interrupt import run_interruptible

    try:
        code = run_interruptible(_dispatch, args) if args.command in INTERRUPTIBLE else _dispatch(args)
        sys.stdout.flush()  # so that a reader gone away (`| head`) shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # The Python docs' recipe: point stdout at devnull so the exit flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except BadInput as exc:
        print(f"diffeval: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        if not _regression_failed(exc):
            raise
        _print_summary(exc.summary, getattr(args, "json", False))
        print(f"diffeval: {exc}", file=sys.stderr)
        return EXIT_REGRESSION


def _regression_failed(exc: Exception) -> bool:
    """Whether exc is a RegressionFailed, without importing the run machinery (torch) into store-only commands:
    where its module was never imported, nothing can have raised one."""
    summary = sys.modules.get("tasks.reporting.summary")
    return summary is not None and isinstance(exc, summary.RegressionFailed)


def console() -> int:
    """The `diffeval` command: main(), then an exit that skips the interpreter's last garbage collection.

    At exit Python collects every object it tracks to break reference cycles: with torch, Prefect and a
    run's tables loaded that is 0.7 s on 2 cores, a fifth of a warm re-run, spent on memory the OS takes
    back anyway. gc.freeze() moves every object out of the collector's reach, so that walk is skipped;
    atexit handlers (Prefect sending its last events and logs) still run, and files are flushed and closed
    by the code that wrote them (artifacts are renamed into place only once closed). main() itself, as
    the tests call it, leaves the collector alone.
    """
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console())
