"""A vote as the page posts it, checked against the arena before anything is stored.

Every refusal is a VoteRejected with an HTTP status and a one-line reason: a body over MAX_BODY
bytes (413), malformed JSON or fields (400), a run the arena does not serve (404), or images that
were not shown together as one matchup (400: the matchup token does not vouch for them).
"""

from __future__ import annotations

import hmac
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tasks.arena.matchups import MAX_SHOWN, Arena, matchup_token, models_of

MAX_BODY = 4096
ANONYMOUS = "anonymous"


class VoteRejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class VoteBody(BaseModel):
    """The JSON the page posts; the vote id is made by the page, so a retried post is the same vote."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    vote_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")
    rater: str = Field(max_length=64)
    runs: list[str] = Field(min_length=1, max_length=MAX_SHOWN)
    condition_id: str = Field(max_length=200)
    seed: int
    sample_index: int
    shown: list[str] = Field(min_length=2, max_length=MAX_SHOWN)
    choice: Literal["best", "tie", "skip"]
    winner: str | None = None
    matchup: str = Field(pattern=r"^[0-9a-f]{64}$")


def _parse(body: bytes) -> VoteBody:
    if len(body) > MAX_BODY:
        raise VoteRejected(413, f"vote body: {len(body)} bytes, over the {MAX_BODY}-byte limit; post one vote at a time")
    try:
        vote = VoteBody.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise VoteRejected(400, f"vote {where}: {first['msg']}; post the fields the page sends (see flows/app/static/arena.js)") from None
    if (vote.choice == "best") != (vote.winner is not None) or (vote.winner is not None and vote.winner not in vote.shown):
        raise VoteRejected(400, "vote winner: must be one of the shown images for choice 'best', and absent for 'tie' or 'skip'")
    return vote


def body_to_vote(body: bytes, arena: Arena, now: float | None = None) -> dict:
    """The stored row of a posted vote (the artifacts.votes schema), or VoteRejected."""
    vote = _parse(body)
    unknown = [r for r in vote.runs if r not in arena.runs]
    if unknown:
        raise VoteRejected(404, f"vote runs: unknown run {unknown[0]!r}; this arena serves {', '.join(arena.runs)}")
    slot = (vote.condition_id, vote.seed, vote.sample_index)
    expected = matchup_token(arena.secret, vote.runs, slot, vote.shown)
    if slot not in arena.slots or not hmac.compare_digest(expected, vote.matchup):
        raise VoteRejected(400, "vote shown: these images were not shown together by this server; load a new matchup")
    models = models_of(arena, slot, vote.shown)
    winner_model = models[vote.shown.index(vote.winner)] if vote.winner else None
    groups = arena.conditions.get(vote.condition_id, {}).get("groups", [])
    return {"vote_id": vote.vote_id, "rater": vote.rater.strip() or ANONYMOUS, "runs": sorted(vote.runs),
            "condition_id": vote.condition_id, "groups": list(groups), "seed": vote.seed, "sample_index": vote.sample_index,
            "shown": list(vote.shown), "models": models, "choice": vote.choice, "winner": vote.winner,
            "winner_model": winner_model, "created": time.time() if now is None else now}
