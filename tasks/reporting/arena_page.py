"""arena/report.html: the leaderboards and the agreement with the automatic metrics, one page in the store."""

from __future__ import annotations

import html

from artifacts.store import Store
from tasks.arena.leaderboard import AGREEMENT_COLUMNS, BOARD_COLUMNS
from tasks.reporting.report import STYLE, html_table

REPORT_REL = "arena/report.html"
# No page wider than its window (1280 px and up): long model names break anywhere rather than widen a board.
FIT_STYLE = "body{max-width:1240px}td.l,caption{overflow-wrap:anywhere}"


def leaderboards_to_html(boards: dict) -> list[str]:
    """HTML sections: counts and method, the overall board with the metrics beside it, agreement, groups."""
    sections = [f"<p>{boards['votes']} votes: {boards['picks']} picks, {boards['ties']} ties, {boards['skips']} skips. "
                f"{html.escape(boards['note'])} Ratings on the Elo scale (1000 = the average model) with 95% bootstrap "
                f"intervals over whole votes; a board needs {boards['min_votes']} votes.</p>"]
    for board in boards["boards"]:
        title = board_title(board)
        if board["shown"]:
            # The automatic metrics beside the overall boards.
            columns = list(BOARD_COLUMNS) + [c for c in board["rows"][0] if c not in BOARD_COLUMNS]
            sections.append(html_table(board["rows"], columns, f"{title} ({board['n']} votes)"))
        else:
            sections.append(f"<p class='warn'>{html.escape(title)}: {board['n']} votes, below the minimum of {boards['min_votes']}.</p>")
    pooled = any("pool" in row for row in boards["agreement"])
    sections.insert(2, html_table(boards["agreement"], list(AGREEMENT_COLUMNS) + (["pool"] if pooled else []),
                                  "Agreement of each automatic metric's ranking with the people's (Kendall's τ-b, 95% CI from the vote bootstrap)"))
    return sections


def board_title(board: dict) -> str:
    """`all`, or `all · pool 2 of 3 (x, y, z)` when the group's models fall into pools that never met."""
    if "pool" not in board:
        return board["group"]
    return f"{board['group']} · pool {board['pool']} of {board['pools']} ({', '.join(board['models'])})"


def write_arena_report(store: Store, boards: dict) -> str:
    """Write arena/report.html; return its absolute path."""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>diffeval arena</title><style>{STYLE}{FIT_STYLE}</style></head>"
            f"<body><h1>diffeval · arena leaderboard</h1>{''.join(leaderboards_to_html(boards))}</body></html>")
    store.write_text(REPORT_REL, page)
    return str(store.path(REPORT_REL))
