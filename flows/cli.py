"""`diffeval`: run, demo, inspect, models tiny, serve. Bad input → one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")

from artifacts.errors import BadInput  # noqa: E402
from flows.arena_cli import add_arena_parser, run_arena  # noqa: E402

EXIT_BAD_INPUT = 2
EXIT_REGRESSION = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffeval", description="Evaluate and compare diffusion models.")
    sub = parser.add_subparsers(dest="command", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", default=None, help="store folder (default $DIFFEVAL_STORE or ./.diffeval)")
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run = sub.add_parser("run", parents=[store, out], help="evaluate the models of an EvalSpec YAML file")
    run.add_argument("spec")
    sub.add_parser("demo", parents=[store, out], help="build tiny models and run the built-in comparison")
    inspect = sub.add_parser("inspect", parents=[store, out], help="list runs, images, scores, metrics, pairs")
    inspect.add_argument("what", choices=["runs", "images", "scores", "metrics", "pairs", "votes"])
    inspect.add_argument("--run", default=None, help="run id or prefix (default: the latest run)")
    models = sub.add_parser("models", help="build models")
    models.add_argument("kind", choices=["tiny"])
    models.add_argument("--out", required=True)
    serve = sub.add_parser("serve", parents=[store], help="serve the evaluation as a scheduled Prefect deployment")
    serve.add_argument("spec")
    serve.add_argument("--cron", default="0 2 * * *")
    serve.add_argument("--name", default="nightly")
    add_arena_parser(sub, store)
    return parser


def _print_rows(rows: list[dict], as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps(rows, default=str))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else escape(str(v)) for v in row.values()])
    Console().print(table)


def run_spec(spec_path: str, store: str | None) -> dict:
    """Check the spec outside Prefect (bad input fails fast, nothing written), then run the flow."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from artifacts.store import Store
    from flows.evaluate import evaluate
    from tasks.prepare import prepare

    prepare(spec_path, Store(store))
    # Heartbeats detect crashed runs of deployments (`serve` keeps them). For a run started here the
    # process itself reports a crash, and the heartbeat thread, sleeping in 1 s steps, would add up to
    # a second to every run's exit.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return evaluate(spec_path=spec_path, store=store)


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps({k: summary[k] for k in ("run_id", "store", "counts", "metrics", "comparisons")} | {
            k: summary[k] for k in ("report", "previous_run", "regressions")}, default=str))
        return
    _print_rows([{k: m[k] for k in ("model", "metric", "group", "value", "ci_low", "ci_high", "n")} for m in summary["metrics"] if m["group"] == "all"], False, "Metrics")
    if summary["comparisons"]:
        _print_rows(summary["comparisons"], False, "Paired comparisons (a − b)")
    print(f"counts: {json.dumps(summary['counts'])}", file=sys.stderr)
    print(f"report: {summary['report']}")


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        _print_summary(run_spec(args.spec, args.store), args.json)
    elif args.command == "demo":
        from flows.demo import write_demo_spec

        for summary in (run_spec(path, args.store) for path in write_demo_spec(args.store)):
            _print_summary(summary, args.json)
    elif args.command == "inspect":
        from artifacts import inspect
        from artifacts.store import Store

        store = Store(args.store)
        rows = inspect.runs(store) if args.what == "runs" else getattr(inspect, args.what)(store, args.run)
        _print_rows(rows, args.json, args.what)
    elif args.command == "models":
        from tasks.tiny import build_tiny_models

        for name, path in build_tiny_models(args.out).items():
            print(f"{name}: {path}")
    elif args.command == "serve":
        from flows.deploy import serve

        serve(args.spec, args.cron, args.name, args.store)
    elif args.command == "arena":
        return run_arena(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="diffeval: %(levelname)s: %(message)s", stream=sys.stderr)
    from tasks.summary import RegressionFailed

    try:
        return _dispatch(args)
    except BadInput as exc:
        print(f"diffeval: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RegressionFailed as exc:
        if getattr(args, "json", False):
            _print_summary(exc.summary, True)
        print(f"diffeval: {exc}", file=sys.stderr)
        return EXIT_REGRESSION


if __name__ == "__main__":
    sys.exit(main())
