"""The arena over a real run of tiny models: matchups from its tables, votes, and the report flow's
page and Prefect table artifacts."""

import asyncio
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from artifacts.store import Store
from flows.app.arena_server import ArenaState, create_app
from flows.arena_report import arena_report
from flows.app.cli import run_spec
from tasks.arena.matchups import runs_to_arena, select_runs
from tests.arena.test_api import vote_for
from tests.flows.helpers import PROMPTS, t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_votes_on_a_real_run_reach_the_report_and_the_prefect_artifacts(tmp_path, tiny_models):
    store_root = str(tmp_path / "store")
    summary = run_spec(str(t2i_spec(tmp_path, tiny_models)), store_root)
    store = Store(store_root)
    arena = runs_to_arena(store, select_runs(store, ["t2i-test"]))
    assert arena.runs == (summary["run_id"],) and len(arena.slots) == len(PROMPTS)
    assert {frozenset(models) for models in arena.slots.values()} == {frozenset({"a", "b"})}
    client = TestClient(create_app(ArenaState(store, arena, min_votes=4, resamples=50, seed=1)))
    for i in range(6):
        m = client.get("/api/matchup").json()
        assert m["kind"] == "prompt" and m["text"] in PROMPTS
        slot = arena.slots[(m["condition_id"], m["seed"], m["sample_index"])]
        assert client.post("/api/vote", json=vote_for(m, m["shown"].index(slot["a"]), f"vote-{i:04d}")).status_code == 200

    result = arena_report(store=store_root, min_votes=4, resamples=50)
    overall = result["boards"][0]
    assert [r["model"] for r in overall["rows"]] == ["a", "b"] and overall["rows"][0]["wins"] == 6
    assert {r["model"]: r["clip_score"] for r in overall["rows"]} == {
        m["model"]: m["value"] for m in summary["metrics"] if m["group"] == "all" and m["metric"] == "clip_score"}
    page = Path(result["report"]).read_text()
    assert "Kendall" in page and "<td class='l'>a</td>" in page and result["report"].endswith("arena/report.html")

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read():
        async with get_client() as client:
            keys = ["diffeval-arena-leaderboard", "diffeval-arena-agreement"]
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))

    assert {a.key: a.type for a in asyncio.run(read())} == {"diffeval-arena-leaderboard": "table", "diffeval-arena-agreement": "table"}
