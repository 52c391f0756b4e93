"""The `diffeval arena` subcommand: its arguments, and serving or reporting (heavy imports deferred)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from artifacts.errors import BadInput

TOKEN_ENV = "DIFFEVAL_ARENA_TOKEN"


def add_arena_parser(sub, store: argparse.ArgumentParser) -> None:
    arena = sub.add_parser("arena", parents=[store], help="serve a pick-the-best-of-four arena over finished runs; votes go to the store")
    arena.add_argument("--run", action="append", default=None,
                       help="run id, prefix or spec name; repeat to pool runs (default: the latest run of every spec)")
    arena.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs a token)")
    arena.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 for any free port)")
    arena.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                       help=f"token every request must carry (default ${TOKEN_ENV}; made up when --host is not loopback)")
    arena.add_argument("--min-votes", type=int, default=20, help="votes a leaderboard (overall or per group) needs before it is shown")
    arena.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of whole votes for the rating CIs")
    arena.add_argument("--report", action="store_true",
                       help="write arena/report.html and the Prefect table artifacts from the stored votes, then exit")


def run_arena(args: argparse.Namespace) -> int:
    """Serve the arena (or, with --report, publish its leaderboard) for the parsed arguments."""
    if args.min_votes < 1 or args.resamples < 1:
        raise BadInput("--min-votes and --resamples: must be at least 1")
    if args.report:
        from flows.arena_report import arena_report
        from flows.local_server import local_api

        with local_api():
            result = arena_report(store=args.store, runs=args.run, min_votes=args.min_votes, resamples=args.resamples)
        print(f"report: {result['report']}")
        return 0
    from artifacts.store import Store
    from flows.app.arena_server import LOOPBACK, ArenaState, bind, create_app, serve
    from tasks.arena.matchups import runs_to_arena, select_runs

    token = args.token or (None if args.host in LOOPBACK else secrets.token_urlsafe(24))
    store = Store(args.store)
    arena = runs_to_arena(store, select_runs(store, args.run))
    state = ArenaState(store, arena, args.min_votes, args.resamples)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"arena: {len(arena.slots)} matchup slots from runs {', '.join(arena.runs)}; {len(state.log)} votes stored", file=sys.stderr)
    print(f"arena: open http://{shown}:{port}/" + (f"?token={token}" if token else ""), flush=True)
    serve(create_app(state, token, LOOPBACK if args.host in LOOPBACK else None), sock)
    return 0
