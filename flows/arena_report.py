"""The arena's leaderboard as a Prefect flow: the report page and table artifacts from the stored votes."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from artifacts.store import Store
from artifacts.votes import read_votes
from tasks.arena.leaderboard import leaderboards
from tasks.arena.matchups import arena_metrics, runs_to_arena, select_runs
from tasks.reporting.arena_page import write_arena_report


@task(name="arena-leaderboards", cache_policy=NO_CACHE)
def leaderboards_task(store_root: str, runs: list[str] | None, min_votes: int, resamples: int) -> dict:
    """Fit the stored votes overall and per group, with each model's metrics from its run."""
    store = Store(store_root)
    metrics, directions = arena_metrics(store, runs_to_arena(store, select_runs(store, runs)))
    return leaderboards(read_votes(store), min_votes, resamples, 0, metrics, directions)


@flow(name="diffeval-arena-report")
def arena_report(store: str | None = None, runs: list[str] | None = None, min_votes: int = 20, resamples: int = 1000) -> dict:
    """Write arena/report.html and publish the leaderboards and the metric agreement as table artifacts."""
    root = str(Store(store).root)
    boards = leaderboards_task(root, runs, min_votes, resamples)
    report = write_arena_report(Store(root), boards)
    rows = [{"group": b["group"], **({"pool": b["pool"]} if "pool" in b else {}), **r} for b in boards["boards"] if b["shown"] for r in b["rows"]]
    create_table_artifact(key="diffeval-arena-leaderboard", table=rows or [{"group": "all", "votes": boards["votes"]}],
                          description=f"diffeval arena: {boards['votes']} votes; {boards['note']}")
    if boards["agreement"]:
        create_table_artifact(key="diffeval-arena-agreement", table=boards["agreement"],
                              description="Kendall's τ between the human ranking and each automatic metric's")
    return {"report": report, **boards}
