"""Leaderboards from stored votes: ratings with bootstrap CIs, overall and per group, and how far each
automatic metric agrees with the people (Kendall's τ between the two rankings, with its CI)."""

from __future__ import annotations

import numpy as np

from tasks.arena.fit import ALPHA, fit_ratings, votes_to_design
from tasks.values.names import GROUP_ALL

BOARD_COLUMNS = ("rank", "model", "rating", "ci_low", "ci_high", "wins", "ties", "shown")
AGREEMENT_COLUMNS = ("group", "metric", "tau", "ci_low", "ci_high", "models")
POOL_NOTE = (" Models never shown together fall into separate pools, each with its own board: ratings and ranks"
             " compare only within a pool.")
TIE_NOTE = ("A pick is a Luce (Plackett-Luce top-1) choice among the shown models; a tie counts as an equal "
            "share of one win for each shown model; skips are stored but not fitted.")


def _finite(value: float) -> float | None:
    """NaN becomes None: JSON has no NaN, and a missing value should read as missing."""
    return None if value is None or np.isnan(value) else float(value)


def kendall_tau(draws: np.ndarray, reference: np.ndarray, pool: np.ndarray | None = None) -> np.ndarray:
    """Kendall's τ-b between each row of `draws` and `reference` (NaN where either ranking is all ties).

    With `pool`, only pairs within one pool count: models never compared by people have no human order.
    """
    draws, reference = np.atleast_2d(draws), np.asarray(reference, dtype=np.float64)
    i, j = np.triu_indices(reference.size, k=1)
    if pool is not None:
        keep = np.asarray(pool)[i] == np.asarray(pool)[j]
        i, j = i[keep], j[keep]
    a = np.sign(draws[:, i] - draws[:, j])
    b = np.sign(reference[i] - reference[j])
    untied_a, untied_b = np.count_nonzero(a, axis=1), np.count_nonzero(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a @ b) / np.sqrt(untied_a * untied_b)


def pools(votes: list[dict]) -> dict[str, int]:
    """model -> pool number (1, 2, ...): models linked by being shown together. Ratings compare only within a pool."""
    parent: dict[str, str] = {}

    def root(m: str) -> str:
        while parent.setdefault(m, m) != m:
            m = parent[m]
        return m

    for v in votes:
        for other in v["models"][1:]:
            parent[root(other)] = root(v["models"][0])
    roots = list(dict.fromkeys(root(m) for m in sorted(parent)))
    return {m: roots.index(root(m)) + 1 for m in parent}


def _fitted(votes: list[dict]) -> list[dict]:
    return [v for v in votes if v["choice"] in ("best", "tie")]


def board(votes: list[dict], resamples: int = 1000, seed: int = 0, alpha: float = ALPHA) -> tuple[list[dict], np.ndarray]:
    """Rows (best first) of the models shown in `votes` (picks and ties), and the bootstrap draws per model.

    Give it the votes of one pool (`split_pools`): a rating from one pool says nothing about a model in another.
    """
    votes = _fitted(votes)
    models = sorted({m for v in votes for m in v["models"]})
    if len(models) < 2:
        return [], np.empty((resamples, 0))
    shown, wins = votes_to_design([(v["models"], v["winner_model"] if v["choice"] == "best" else None) for v in votes], models)
    point, draws, ci = fit_ratings(shown, wins, resamples, seed, alpha)
    ties = np.array([[v["choice"] == "tie" and m in v["models"] for m in models] for v in votes]).sum(axis=0)
    rows = [{"model": m, "rating": float(point[k]), "ci_low": float(ci[0, k]), "ci_high": float(ci[1, k]),
             "wins": int(np.sum(wins[:, k] == 1.0)), "ties": int(ties[k]), "shown": int(shown[:, k].sum())}
            for k, m in enumerate(models)]
    order = np.argsort(-point, kind="stable")
    return [{"rank": rank + 1, **rows[k]} for rank, k in enumerate(order)], draws[:, order]


def split_pools(votes: list[dict]) -> list[list[dict]]:
    """The votes of each pool (models linked by being shown together), in pool order."""
    pool = pools(votes)
    out: dict[int, list[dict]] = {}
    for v in votes:
        out.setdefault(pool[v["models"][0]], []).append(v)
    return [out[k] for k in sorted(out)]


def agreement(rows: list[dict], draws: np.ndarray, metrics: dict[str, dict[str, float]], directions: dict[str, int],
              group: str = GROUP_ALL) -> list[dict]:
    """Kendall's τ between the human ranking and each metric's (sign-adjusted so higher is better).

    The CI comes from the vote bootstrap (metric values held fixed); `metrics` maps model → metric → value.
    Only pairs of models within one pool count (see `pools`).
    """
    out = []
    names = sorted({name for values in metrics.values() for name in values if name in directions})
    for name in names:
        have = [k for k, r in enumerate(rows) if not np.isnan(metrics.get(r["model"], {}).get(name, np.nan))]
        if len(have) < 2:
            continue
        reference = np.array([directions[name] * metrics[rows[k]["model"]][name] for k in have])
        pool = np.array([rows[k].get("pool", 1) for k in have])
        point = kendall_tau(np.array([rows[k]["rating"] for k in have]), reference, pool)[0]
        taus = kendall_tau(draws[:, have], reference, pool)
        low, high = np.nanpercentile(taus, [2.5, 97.5]) if np.isfinite(taus).any() else (np.nan, np.nan)
        out.append({"group": group, "metric": name, "tau": _finite(point), "ci_low": _finite(low), "ci_high": _finite(high), "models": len(have)})
    return out


def _group_boards(group: str, members: list[dict], min_votes: int, resamples: int, seed: int) -> list[tuple[dict, np.ndarray | None]]:
    """One board per pool of the group's votes, each shown from `min_votes` votes and two models; (board, draws)."""
    parts = split_pools(members) if len(members) >= min_votes else [members]
    several = len(parts) > 1
    out = []
    for number, part in enumerate(parts, 1):
        rows, draws = board(part, resamples, seed) if len(part) >= min_votes else ([], None)
        entry = {"group": group, "n": len(part), "shown": bool(rows), "rows": rows}  # one model alone: no board
        if several:
            entry |= {"pool": number, "pools": len(parts), "models": sorted({m for v in part for m in v["models"]})}
        out.append((entry, draws))
    return out


def leaderboards(votes: list[dict], min_votes: int = 20, resamples: int = 1000, seed: int = 0,
                 metrics: dict[str, dict[str, float]] | None = None, directions: dict[str, int] | None = None) -> dict:
    """Boards overall and per group (category:, challenge:, class:), one per pool of models shown together,
    each shown only past `min_votes` fitted votes; ranks never compare models of two pools.

    Returns {votes, picks, ties, skips, min_votes, note, boards: [{group, n, shown, rows[, pool, pools, models]}],
    agreement: [...]}.
    """
    groups = [GROUP_ALL] + sorted({g for v in votes for g in v["groups"]})
    boards, agreements = [], []
    for group in groups:
        members = [v for v in _fitted(votes) if group == GROUP_ALL or group in v["groups"]]
        for entry, draws in _group_boards(group, members, min_votes, resamples, seed):
            rows = entry["rows"]
            if rows and metrics and group == GROUP_ALL:  # metric values are per model overall: beside the overall boards only
                for row in agreement(rows, draws, metrics, directions or {}, group):
                    agreements.append(row | ({"pool": entry["pool"]} if "pool" in entry else {}))
                for r in rows:
                    r.update({name: _finite(value) for name, value in metrics.get(r["model"], {}).items()})
            boards.append(entry)
    return {"votes": len(votes), "picks": sum(v["choice"] == "best" for v in votes), "ties": sum(v["choice"] == "tie" for v in votes),
            "skips": sum(v["choice"] == "skip" for v in votes), "min_votes": min_votes,
            "note": TIE_NOTE + (POOL_NOTE if any("pool" in b for b in boards) else ""),
            "boards": boards, "agreement": agreements}
