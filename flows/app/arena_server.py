"""`diffeval arena`: a small web server (starlette on uvicorn) that shows matchups and stores votes.

Only what the arena holds is served: the page and its script (package data, no CDN), images by
generation key of the pooled runs, edit sources by content hash. Any other path is 404, so `../`,
absolute and percent-encoded paths reach nothing. Bound to another host than loopback it demands a
token (query `?token=`, which the page turns into a cookie, or the X-Arena-Token header).
"""

from __future__ import annotations

import hmac
import random
import socket
import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from artifacts.errors import BadInput
from artifacts.store import CorruptArtifact, Store, image_rel, ref_rel
from artifacts.votes import DuplicateVote, VoteLog
from tasks.arena.leaderboard import leaderboards
from tasks.arena.matchups import Arena, arena_metrics, draw_matchup
from tasks.arena.votes import MAX_BODY, VoteRejected, body_to_vote

STATIC = Path(__file__).parent / "static"
COOKIE = "diffeval_arena_token"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ArenaState:
    """The pooled runs, the vote log, a random source and the last leaderboard (refitted when votes change)."""

    def __init__(self, store: Store, arena: Arena, min_votes: int = 20, resamples: int = 1000, seed: int | None = None):
        self.store, self.arena, self.min_votes, self.resamples = store, arena, min_votes, resamples
        self.log = VoteLog(store)
        self.metrics, self.directions = arena_metrics(store, arena)
        self._rng, self._rng_lock = random.Random(seed), threading.Lock()
        self._board, self._board_lock = (-1, None), threading.Lock()

    def matchup(self) -> dict:
        with self._rng_lock:
            return draw_matchup(self.arena, self._rng)

    def vote(self, body: bytes) -> tuple[int, dict]:
        try:
            row = body_to_vote(body, self.arena)
            stored = self.log.add(row)
        except VoteRejected as exc:
            return exc.status, {"error": exc.reason}
        except DuplicateVote as exc:
            return 409, {"error": f"vote_id {exc}: already stored with another choice; make a new vote id per vote"}
        return 200, {"stored": stored, "vote_id": row["vote_id"], "votes": len(self.log)}

    def leaderboard(self) -> dict:
        with self._board_lock:
            votes = self.log.votes()
            if self._board[0] != len(votes):
                self._board = (len(votes), leaderboards(votes, self.min_votes, self.resamples, 0, self.metrics, self.directions))
            return self._board[1]


def _png(store: Store, rel: str, sha256: str) -> Response:
    try:
        data = store.read_bytes(rel, sha256)
    except (FileNotFoundError, CorruptArtifact):
        return PlainTextResponse("image missing or changed on disk", status_code=404)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})


async def _limited_body(request: Request) -> bytes:
    """The request body, refused past MAX_BODY bytes without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise VoteRejected(413, f"vote body: {declared} bytes, over the {MAX_BODY}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise VoteRejected(413, f"vote body: over the {MAX_BODY}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(state: ArenaState, token: str | None = None, hosts: tuple[str, ...] | None = None) -> Starlette:
    """The arena's routes; with a token, every request must carry it; with `hosts`, its Host header must name one."""
    page, script = (STATIC / "arena.html").read_text(), (STATIC / "arena.js").read_text()

    async def index(request: Request) -> Response:
        response = Response(page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})
        if token and request.query_params.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    async def matchup(request: Request) -> Response:
        # Microseconds of work: a thread hop would cost more than the draw itself.
        return JSONResponse(state.matchup(), headers={"Cache-Control": "no-store"})

    async def vote(request: Request) -> Response:
        # JSON only: a cross-site form cannot post it without a CORS preflight, which this server never grants.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "vote: send Content-Type: application/json"}, status_code=415)
        try:
            body = await _limited_body(request)
        except VoteRejected as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        status, payload = await run_in_threadpool(state.vote, body)
        return JSONResponse(payload, status_code=status)

    async def leaderboard(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(state.leaderboard), headers={"Cache-Control": "no-store"})

    async def image(request: Request) -> Response:
        key = request.path_params["name"].removesuffix(".png")
        if key not in state.arena.images or not request.path_params["name"].endswith(".png"):
            return PlainTextResponse("not found", status_code=404)
        return await run_in_threadpool(_png, state.store, image_rel(key), state.arena.images[key])

    async def source(request: Request) -> Response:
        sha = request.path_params["name"].removesuffix(".png")
        if sha not in state.arena.sources or not request.path_params["name"].endswith(".png"):
            return PlainTextResponse("not found", status_code=404)
        return await run_in_threadpool(_png, state.store, ref_rel(sha), sha)

    routes = [Route("/", index), Route("/arena.js", lambda r: Response(script, media_type="text/javascript")),
              Route("/api/matchup", matchup), Route("/api/vote", vote, methods=["POST"]),
              Route("/api/leaderboard", leaderboard), Route("/img/{name}", image), Route("/src/{name}", source)]
    app = Starlette(routes=routes)
    return Gate(app, token, hosts) if token or hosts else app


def _hostname(header: str) -> str:
    """The host of a Host header, without its port ([::1]:8765 -> ::1)."""
    if header.startswith("["):
        return header[1:header.find("]")]
    return header.rsplit(":", 1)[0]


class Gate:
    """ASGI wrapper: 400 for a Host header outside `hosts` (so a page on another site that rebinds its
    name to 127.0.0.1 cannot reach a loopback arena), 401 without the token (query, header or the page's cookie)."""

    def __init__(self, app, token: str | None, hosts: tuple[str, ...] | None):
        self.app, self.token, self.hosts = app, token, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            request = Request(scope)
            refusal = None
            if self.hosts is not None and _hostname(request.headers.get("host", "")) not in self.hosts:
                refusal = PlainTextResponse(f"arena: Host must be one of {', '.join(self.hosts)}; open the URL printed by `diffeval arena`", status_code=400)
            elif self.token is not None:
                given = request.query_params.get("token") or request.headers.get("x-arena-token") or request.cookies.get(COOKIE) or ""
                if not hmac.compare_digest(given.encode(), self.token.encode()):
                    refusal = PlainTextResponse("arena: token missing or wrong; open the URL printed by `diffeval arena`", status_code=401)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), or BadInput naming the address."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise BadInput(f"--host {host} --port {port}: cannot listen ({exc.strerror}); pick another --port") from None


def make_server(app):
    """A uvicorn server for `app` (quiet: no access log); `.run(sockets=[sock])` serves, `.should_exit` stops."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5))


def serve(app, sock: socket.socket) -> None:
    """Serve `app` on `sock` until interrupted (uvicorn handles Ctrl-C and SIGTERM)."""
    make_server(app).run(sockets=[sock])
