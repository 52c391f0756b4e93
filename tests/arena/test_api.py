"""The arena's HTTP API: matchups, votes stored once, and every kind of bad input refused with nothing stored."""

import json

import pytest
from starlette.testclient import TestClient

from artifacts.store import Store, image_rel
from artifacts.votes import read_votes
from flows.app.arena_server import ArenaState, create_app
from flows.app.cli import main
from tasks.arena.leaderboard import leaderboards
from tasks.arena.matchups import runs_to_arena, select_runs
from tasks.arena.synthetic import write_synthetic_run
from tasks.arena.votes import MAX_BODY

MODELS = ["alpha", "bravo", "charlie", "delta", "echo"]


@pytest.fixture()
def arena(tmp_path):
    store = Store(tmp_path / "store")
    run_id = write_synthetic_run(store, MODELS, [0, 1], clip_scores={m: 30.0 - i for i, m in enumerate(MODELS)})
    other = write_synthetic_run(store, ["xray", "yankee"], [7], name="not-in-the-arena")
    state = ArenaState(store, runs_to_arena(store, select_runs(store, [run_id])), min_votes=3, resamples=50, seed=0)
    return store, state, TestClient(create_app(state)), other


def vote_for(matchup: dict, /, pick: int | None = 0, vote_id: str = "vote-0001", choice: str = "best", **changes) -> dict:
    body = {"vote_id": vote_id, "rater": "ada", "runs": matchup["runs"], "condition_id": matchup["condition_id"],
            "seed": matchup["seed"], "sample_index": matchup["sample_index"], "shown": matchup["shown"], "choice": choice,
            "winner": matchup["shown"][pick] if choice == "best" else None, "matchup": matchup["matchup"]}
    return {**body, **changes}


def test_a_matchup_shows_up_to_four_anonymised_images_of_one_condition_and_seed(arena):
    _, state, client, _ = arena
    seen_orders = set()
    for _ in range(20):
        m = client.get("/api/matchup").json()
        assert len(m["shown"]) == 4 and len(set(m["shown"])) == 4
        models = state.arena.slots[(m["condition_id"], m["seed"], m["sample_index"])]
        assert set(m["shown"]) <= set(models.values())
        assert not any(name in json.dumps(m) for name in MODELS)  # no model name reaches the page
        assert m["kind"] == "prompt" and m["text"] and m["groups"][0].startswith("category:")
        seen_orders.add(tuple(sorted(models, key=lambda n: m["shown"].index(models[n]) if models[n] in m["shown"] else 9)))
        assert client.get(m["images"][0]).headers["content-type"] == "image/png"
    assert len(seen_orders) > 1  # shuffled per matchup


def test_an_edit_shows_its_instruction_and_source_image_and_only_stored_sources_are_served(tmp_path):
    store = Store(tmp_path)
    run_id = write_synthetic_run(store, ["ip2p", "img2img"], [0], edits=True)
    arena = runs_to_arena(store, select_runs(store, [run_id]))
    client = TestClient(create_app(ArenaState(store, arena, seed=0)))
    m = client.get("/api/matchup").json()
    assert m["kind"] == "edit" and m["detail"] == {"input": "a grey square", "output": f"{m['text']}, from a grey square"}
    source = client.get(m["source"])
    assert source.status_code == 200 and source.headers["content-type"] == "image/png"
    assert client.get(f"/src/{m['shown'][0]}.png").status_code == 404  # a generated image is not a source


def test_a_vote_is_stored_with_what_was_shown_and_a_replay_is_stored_once(arena):
    store, _, client, _ = arena
    m = client.get("/api/matchup").json()
    first = client.post("/api/vote", json=vote_for(m, 2))
    assert first.status_code == 200 and first.json() == {"stored": True, "vote_id": "vote-0001", "votes": 1}
    replay = client.post("/api/vote", json=vote_for(m, 2))
    assert replay.status_code == 200 and replay.json()["stored"] is False
    changed = client.post("/api/vote", json=vote_for(m, 1))
    assert changed.status_code == 409
    (row,) = read_votes(store)
    assert (row["rater"], row["choice"], row["shown"], row["winner"]) == ("ada", "best", m["shown"], m["shown"][2])
    assert row["winner_model"] == row["models"][2] and len(row["models"]) == 4 and row["groups"] == m["groups"]


def test_ties_and_skips_are_votes_and_the_api_leaderboard_is_the_stored_votes_fitted(arena):
    store, state, client, _ = arena
    for i, choice in enumerate(["best", "best", "tie", "skip", "best"]):
        m = client.get("/api/matchup").json()
        assert client.post("/api/vote", json=vote_for(m, i % 4, f"vote-{i:04d}", choice)).status_code == 200
    board = client.get("/api/leaderboard").json()
    expected = leaderboards(read_votes(store), 3, 50, 0, state.metrics, state.directions)
    assert board == json.loads(json.dumps(expected))
    assert (board["votes"], board["picks"], board["ties"], board["skips"]) == (5, 3, 1, 1) and board["boards"][0]["shown"]
    assert board["agreement"][0]["metric"] == "clip_score"


@pytest.mark.parametrize("path", ["/img/../../etc/passwd", "/img/..%2F..%2Fetc%2Fpasswd", "/img/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                  "/img//etc/passwd", "/img/%2Fetc%2Fpasswd", "/src/..%2Fimages", "/img/", "/img/abc.png",
                                  "/../../etc/passwd", "/static/../flows/app/arena_server.py"])
def test_paths_outside_the_arena_are_404(arena, path):
    _, _, client, _ = arena
    assert client.get(path).status_code == 404


def test_an_image_of_a_run_outside_the_arena_is_404_though_it_is_in_the_store(arena):
    store, _, client, other = arena
    from artifacts.runfiles import read_run_table

    key = read_run_table(store, other, "items")[0]["key"]
    assert store.exists(image_rel(key)) and client.get(f"/img/{key}.png").status_code == 404


def _bad_votes(m: dict, other_m: dict) -> list[tuple[str, dict | bytes, int]]:
    return [
        ("images from another matchup", vote_for(m, shown=other_m["shown"]), 400),
        ("fewer images than shown", vote_for(m, shown=m["shown"][:2]), 400),
        ("shown reordered", vote_for(m, shown=m["shown"][::-1]), 400),
        ("another seed", vote_for(m, seed=m["seed"] + 1), 400),
        ("a forged token", vote_for(m, matchup="0" * 64), 400),
        ("unknown run", vote_for(m, runs=["20990101T000000Z-nope-abcdef"]), 404),
        ("winner not shown", vote_for(m, winner="f" * 64), 400),
        ("tie with a winner", vote_for(m, choice="tie", winner=m["shown"][0]), 400),
        ("unknown choice", vote_for(m, choice="worst"), 400),
        ("extra field", {**vote_for(m), "admin": True}, 400),
        ("seed as text", vote_for(m, seed="0"), 400),
        ("missing field", {k: v for k, v in vote_for(m).items() if k != "shown"}, 400),
        ("bad vote id", vote_for(m, vote_id="../../x"), 400),
        ("not json", b"{this is not json", 400),
        ("a list", b"[]", 400),
        ("over the size limit", vote_for(m, rater="x" * MAX_BODY), 413),
    ]


def test_bad_votes_are_4xx_store_nothing_and_the_server_keeps_serving(arena):
    store, _, client, _ = arena
    m, other_m = client.get("/api/matchup").json(), client.get("/api/matchup").json()
    while other_m["shown"] == m["shown"]:
        other_m = client.get("/api/matchup").json()
    for label, body, status in _bad_votes(m, other_m):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = client.post("/api/vote", content=data, headers={"content-type": "application/json"})
        assert response.status_code == status, label
        assert response.json()["error"] and "\n" not in response.json()["error"], label
        assert client.get("/api/matchup").status_code == 200
    assert client.post("/api/vote", content=json.dumps(vote_for(m)), headers={"content-type": "text/plain"}).status_code == 415
    assert client.post("/api/vote", content=b"x" * (MAX_BODY * 4), headers={"content-type": "application/json"}).status_code == 413
    assert read_votes(store) == []
    assert client.post("/api/vote", json=vote_for(m)).status_code == 200 and len(read_votes(store)) == 1


def test_a_token_is_demanded_when_set_and_the_page_keeps_it_as_a_cookie(arena):
    _, state, _, _ = arena
    client = TestClient(create_app(state, token="s3cret"))
    assert client.get("/api/matchup").status_code == 401 and client.get("/").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    assert client.get("/api/matchup", headers={"x-arena-token": "s3cret"}).status_code == 200
    page = client.get("/?token=s3cret")
    assert page.status_code == 200 and "diffeval arena" in page.text
    assert client.get("/api/matchup").status_code == 200  # the cookie set with the page


def test_a_loopback_arena_answers_only_requests_addressed_to_loopback(arena):
    from flows.app.arena_server import LOOPBACK

    _, state, _, _ = arena
    app = create_app(state, hosts=LOOPBACK)
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/api/matchup").status_code == 200
    assert TestClient(app, base_url="http://localhost:8765").get("/").status_code == 200
    assert TestClient(app, base_url="http://[::1]:8765").get("/").status_code == 200
    # A page on another site whose name now resolves to 127.0.0.1 still sends its own name.
    assert TestClient(app, base_url="http://rebound.example:8765").get("/api/matchup").status_code == 400


def test_votes_are_durable_at_once_and_readable_with_inspect(arena, capsys):
    store, state, client, _ = arena
    for i in range(3):
        m = client.get("/api/matchup").json()
        client.post("/api/vote", json=vote_for(m, 0, f"vote-{i:04d}"))
    # A new process on the same store (as after a crash) sees every acknowledged vote.
    assert [v["vote_id"] for v in read_votes(Store(store.root))] == ["vote-0000", "vote-0001", "vote-0002"]
    assert main(["inspect", "votes", "--store", str(store.root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["vote_id"] for r in rows] == ["vote-0000", "vote-0001", "vote-0002"] and rows[0]["rater"] == "ada"
    parts = list((store.root / "tables" / "arena-votes").glob("*.parquet"))
    assert len(parts) == 3
    import pyarrow.parquet as pq

    assert pq.read_table(parts[0]).num_rows == 1  # plain Parquet, readable by any tool


def test_an_arena_needs_two_models_on_one_condition(tmp_path):
    from artifacts.errors import BadInput

    store = Store(tmp_path)
    run_id = write_synthetic_run(store, ["solo"], [0])
    with pytest.raises(BadInput, match="no condition and seed has two different images from two models"):
        runs_to_arena(store, select_runs(store, [run_id]))
    twins = write_synthetic_run(store, ["left", "right"], [0], name="twins", same_as={"right": "left"})
    with pytest.raises(BadInput, match="two different images"):  # byte-identical images are no contest
        runs_to_arena(store, select_runs(store, [twins]))
    assert main(["arena", "--store", str(tmp_path / "empty")]) == 2


def test_byte_identical_images_are_never_rivals_and_each_of_their_models_stands_for_them(tmp_path):
    store = Store(tmp_path)
    run_id = write_synthetic_run(store, ["v1-4", "v1-4-again", "v1-4-third", "v1-5"], [0],
                                 same_as={"v1-4-again": "v1-4", "v1-4-third": "v1-4"})
    state = ArenaState(store, runs_to_arena(store, select_runs(store, [run_id])), min_votes=1, resamples=10, seed=3)
    client, stood_for = TestClient(create_app(state)), set()
    for i in range(30):
        m = client.get("/api/matchup").json()
        contents = [state.arena.images[key] for key in m["shown"]]
        assert len(m["shown"]) == 2 and len(set(contents)) == 2  # one of the three identical images, and v1-5's
        assert client.post("/api/vote", json=vote_for(m, 0, f"vote-{i:04d}")).status_code == 200
    for vote in read_votes(store):
        twins = [model for model in vote["models"] if model != "v1-5"]
        assert len(twins) == 1 and "v1-5" in vote["models"]
        stood_for.add(twins[0])
    assert stood_for == {"v1-4", "v1-4-again", "v1-4-third"}  # drawn at random among the identical ones


def test_the_cli_serves_loopback_without_a_token_and_any_other_host_only_with_one(arena, monkeypatch, capsys):
    store, _, _, _ = arena
    served = []
    monkeypatch.setattr("flows.app.arena_server.serve", lambda app, sock: (served.append(app), sock.close()))
    assert main(["arena", "--store", str(store.root), "--port", "0"]) == 0
    assert main(["arena", "--store", str(store.root), "--port", "0", "--host", "0.0.0.0"]) == 0
    loopback, other = served
    assert loopback.token is None and loopback.hosts and other.token and other.hosts is None
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("arena: open http://127.0.0.1:") and out[1].endswith(f"/?token={other.token}")
