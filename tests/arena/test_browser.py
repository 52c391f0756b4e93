"""The arena in a real browser: Debian's headless Chromium, driven by Playwright, votes ten times,
reloads, and finds the leaderboard and the rater's name as the stored votes say."""

import shutil
import threading

import pytest

from artifacts.store import Store
from artifacts.votes import read_votes
from flows.app.arena_server import LOOPBACK, ArenaState, bind, create_app, make_server
from tasks.arena.leaderboard import leaderboards
from tasks.arena.matchups import runs_to_arena, select_runs
from tasks.arena.synthetic import write_synthetic_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
# What the ten votes do: a key press, a click on an image, t for tie, s for skip.
ACTIONS = ["1", "click:2", "3", "4", "t", "2", "s", "1", "click:3", "t"]


@pytest.fixture()
def served(tmp_path):
    store = Store(tmp_path / "store")
    write_synthetic_run(store, ["north", "east", "south", "west"], [0, 1], clip_scores={"north": 3.0, "east": 2.0, "south": 1.0, "west": 0.0})
    state = ArenaState(store, runs_to_arena(store, select_runs(store, None)), min_votes=5, resamples=100, seed=0)
    sock = bind("127.0.0.1", 0)
    server = make_server(create_app(state, hosts=LOOPBACK))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield store, state, f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join(timeout=30)


def _cells(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(f"{selector} tr", "rows => rows.slice(1).map(r => Array.from(r.cells, c => c.textContent))")


def _fmt(value, column: str) -> str:
    """As the page's fmt() for a board's columns: ratings and bounds to one decimal, the rest as they are."""
    return f"{value:.1f}" if column in ("rating", "ci_low", "ci_high") else str(value)


def test_ten_votes_in_chromium_match_the_store_after_a_reload(served, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[test]')")
    store, state, url = served
    done = []
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS)
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-state=ready]")
        page.fill("#rater", "grace")
        page.click("h1")  # leave the name field, so keys vote
        for i, action in enumerate(ACTIONS):
            shown = page.eval_on_selector_all("#images img", "imgs => imgs.map(i => i.getAttribute('src'))")
            shown = [src.removeprefix("img/").removesuffix(".png") for src in shown]
            if action.startswith("click:"):
                page.click(f"figure[data-index='{int(action[6:]) - 1}']")
            else:
                page.keyboard.press(action)
            choice = "tie" if action == "t" else "skip" if action == "s" else "best"
            done.append((shown, choice, shown[int(action[-1]) - 1] if choice == "best" else None))
            page.wait_for_selector(f"body[data-answered='{i + 1}'][data-state=ready]")
        page.reload()
        page.wait_for_selector("#count[data-votes='10']")
        page.wait_for_selector("#board-all")
        assert page.input_value("#rater") == "grace"  # remembered by the browser
        shown_board = _cells(page, "#board-all")
        context.close()
    votes = read_votes(store)
    assert [(v["shown"], v["choice"], v["winner"]) for v in votes] == done
    assert {v["rater"] for v in votes} == {"grace"}
    expected = leaderboards(votes, 5, 100, 0, state.metrics, state.directions)["boards"][0]["rows"]
    assert [row[:8] for row in shown_board] == [[_fmt(r[c], c) for c in ("rank", "model", "rating", "ci_low", "ci_high", "wins", "ties", "shown")]
                                                 for r in expected]
    assert sum(int(row[5]) for row in shown_board) == sum(choice == "best" for _, choice, _ in done)


# Names that cannot break at a hyphen, and a column per metric: what once made the leaderboard wider than 1280 px.
LONG = ["runwayml_stable_diffusion_v1_5@20261207T231453Z_nightly_f1f4da", "CompVis_stable_diffusion_v1_4@20261207T231453Z_nightly_f1f4da",
        "v1_4_same_weights", "dpm_solver_25_steps"]
METRICS = {m: {"clip_score": 30.0 - i, "pickscore": 20 + i / 3, "hpsv2": 0.25 + i / 100, "cmmd": 0.5 + i / 7, "fd_dinov2": 300.0 + i,
               "fid": 177.7147 + i, "kid": 0.0123456 * i, "is": 1.234567 + i} for i, m in enumerate(LONG)}


def test_pools_get_a_board_each_and_no_page_is_wider_than_1280_px(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[test]')")
    import json

    from tasks.reporting.arena_page import write_arena_report

    store = Store(tmp_path / "store")
    write_synthetic_run(store, LONG, [0, 1], name="first", same_as={LONG[2]: LONG[0]}, metrics=METRICS)
    write_synthetic_run(store, ["other_a", "other_b"], [7], name="second")  # other seeds: never shown with the first run's models
    state = ArenaState(store, runs_to_arena(store, select_runs(store, None)), min_votes=3, resamples=50, seed=0)
    for i in range(40):
        m = state.matchup()
        assert len({state.arena.images[k] for k in m["shown"]}) == len(m["shown"])  # never two identical images
        body = {"vote_id": f"vote-{i:05d}", "rater": "ada", "runs": m["runs"], "condition_id": m["condition_id"], "seed": m["seed"],
                "sample_index": m["sample_index"], "shown": m["shown"], "choice": "best", "winner": m["shown"][i % len(m["shown"])],
                "matchup": m["matchup"]}
        assert state.vote(json.dumps(body).encode())[0] == 200
    boards = state.leaderboard()
    overall = [b for b in boards["boards"] if b["group"] == "all"]
    assert [b.get("pool") for b in overall] == [1, 2] and all(b["shown"] for b in overall)
    report = write_arena_report(store, boards)
    sock = bind("127.0.0.1", 0)
    server = make_server(create_app(state, hosts=LOOPBACK))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/")
            page.wait_for_selector("body[data-state=ready]")
            page.wait_for_selector("#board-all-pool-2")
            shown = [[row[1] for row in _cells(page, f"#board-all-pool-{b['pool']}")] for b in overall]
            widths = [page.evaluate("document.documentElement.scrollWidth")]
            page.goto(f"file://{report}")
            widths.append(page.evaluate("document.documentElement.scrollWidth"))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert shown == [[r["model"] for r in b["rows"]] for b in overall]  # one table per pool, ranked within it
    assert widths == [1280, 1280]  # the window's width: nothing overflows it
