"""Readers behind `diffeval inspect`: plain rows from the store, for tables or JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from artifacts import tables
from artifacts.errors import BadInput
from artifacts.history import read_history
from artifacts.runfiles import list_runs, read_run_table
from artifacts.store import Store, image_rel, ref_rel, resolve_store_root


def existing_store(store: str | None) -> Store:
    """The store to read; it must exist already, since reading one must not create it."""
    root = resolve_store_root(store)
    if not root.is_dir():
        raise BadInput(f"store {root}: no such folder; pass --store with the folder your runs wrote to (or set DIFFEVAL_STORE)")
    return Store(root)


def resolve_run(store: Store, run: str | None) -> str:
    """The one resolver behind every --run: a run id, a spec name (its latest completed run), a unique id
    prefix, or None/'latest' for the newest run."""
    runs = list_runs(store)
    if not runs:
        raise BadInput(f"store {store.root}: no runs yet; run `diffeval run SPEC --store {store.root}` first")
    if run in (None, "latest"):
        return runs[-1]["run_id"]
    ids = [r["run_id"] for r in runs]
    if run in ids:
        return run
    by_name = [r["run_id"] for r in runs if r["name"] == run and r["status"] == "completed"]
    if by_name:
        return by_name[-1]
    matches = [i for i in ids if i.startswith(run)]
    if len(matches) != 1:
        names = ", ".join(dict.fromkeys(r["name"] for r in runs))
        raise BadInput(f"--run {run}: {'no' if not matches else 'more than one'} run id, id prefix or spec name matches in "
                       f"{store.root} (specs: {names}); see `diffeval inspect runs`")
    return matches[0]


def _iso(created: float) -> str:
    return datetime.fromtimestamp(created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def runs(store: Store, accepted: list[dict] = ()) -> list[dict]:
    """One row per finished run, oldest first; `created` as ISO-8601 UTC; `accepted`: who accepted the run as
    its spec's baseline, and why (rows of the acceptances table; the latest acceptance of a run wins)."""
    by_run = {a["run_id"]: a for a in sorted(accepted, key=lambda a: a["accepted"])}
    return [{**{k: r[k] for k in ("run_id", "name", "task", "status")}, "verdict": r.get("verdict"),
             "accepted_by": by_run[r["run_id"]]["by"] if r["run_id"] in by_run else None,
             "accepted_why": by_run[r["run_id"]]["why"] if r["run_id"] in by_run else None,
             "created": _iso(r["created"]), "path": r["path"],
             "provenance": json.loads(r["provenance"]) if r.get("provenance") else None}
            for r in list_runs(store)]


def history(store: Store, spec: str | None = None, metric: str | None = None) -> list[dict]:
    """Every finished run's metric rows with its verdicts (of `spec`, of `metric`), oldest run first."""
    return [{**r, "created": _iso(r["created"])} for r in read_history(store, spec, metric)]


def variant_list(rows: list[dict]) -> list[dict]:
    """Each variant once, in the order rows name them: its label, model and settings (its sweep cell)."""
    out: dict[str, dict] = {}
    for row in rows:
        if row["variant"] not in out:
            cell = json.loads(row["cell"]) if isinstance(row["cell"], str) else row["cell"]
            out[row["variant"]] = {"variant": row["variant"], "model": row["model"], "settings": cell or {}}
    return list(out.values())


def variants(store: Store, run_id: str) -> list[dict]:
    """The variants of a run in run order (the order the summary lists them)."""
    return variant_list(read_run_table(store, run_id, "items"))


def empty_note(store: Store, what: str, run_id: str | None) -> str:
    """Why `inspect <what>` found no rows, and where to look instead."""
    if what == "history":
        return f"store {store.root}: no history rows match; every run adds its metric rows when it finishes"
    if run_id is None and what == "votes":
        return f"store {store.root}: no arena votes yet; `diffeval arena --store {store.root}` collects them"
    if run_id is None:
        return f"store {store.root}: no runs yet; `diffeval run SPEC --store {store.root}` makes one"
    task = next((r["task"] for r in list_runs(store) if r["run_id"] == run_id), None)
    if what == "scores" and task == "class-conditional":
        return f"no per-image scores in run {run_id} (class-conditional runs have set metrics only; see inspect metrics)"
    return f"no {'per-image scores' if what == 'scores' else what} in run {run_id}"


def images(store: Store, run: str | None) -> list[dict]:
    """One row per image of a run: key, model, prompt_id, prompt, seed, sample_index, path, sha256."""
    run_id = resolve_run(store, run)
    generated = tables.latest_by(tables.read(store, tables.GENERATIONS), "key")
    rows = []
    for item in read_run_table(store, run_id, "items"):
        gen = generated.get(item["key"], {})
        rows.append({"key": item["key"], "model": item["variant"], "prompt_id": item["condition_id"],
                     "prompt": gen.get("prompt"), "seed": item["seed"], "sample_index": item["sample_index"],
                     "path": str(store.path(image_rel(item["key"]))), "sha256": gen.get("sha256")})
    return rows


def scores(store: Store, run: str | None) -> list[dict]:
    """One row per image and metric: key, model, metric, value (and the prompt, seed, sample)."""
    return [{"key": r["key"], "model": r["variant"], "metric": r["metric"], "value": r["value"],
             "prompt_id": r["condition_id"], "seed": r["seed"], "sample_index": r["sample_index"]}
            for r in read_run_table(store, resolve_run(store, run), "scores")]


def metrics(store: Store, run: str | None) -> list[dict]:
    return read_run_table(store, resolve_run(store, run), "metrics")


def pairs(store: Store, run: str | None) -> list[dict]:
    """Edit runs: one row per edited image with its source, captions and per-pair scores."""
    run_id = resolve_run(store, run)
    meta = {c["condition_id"]: json.loads(c["meta"]) for c in read_run_table(store, run_id, "conditions")}
    if not meta or "source_sha256" not in next(iter(meta.values())):
        raise BadInput(f"run {run_id}: not an image-to-image run; `inspect pairs` lists edit pairs")
    values: dict[str, dict] = {}
    for score in read_run_table(store, run_id, "scores"):
        values.setdefault((score["key"], score["variant"]), {})[score["metric"]] = score["value"]
    rows = []
    for item in read_run_table(store, run_id, "items"):
        m = meta[item["condition_id"]]
        rows.append({"key": item["key"], "model": item["variant"], "edit_id": item["condition_id"], "seed": item["seed"],
                     "source": str(store.path(ref_rel(m["source_sha256"]))), "edited": str(store.path(image_rel(item["key"]))),
                     "input": m["input"], "edit": m["edit"], "output": m["output"],
                     **values.get((item["key"], item["variant"]), {})})
    return rows


def votes(store: Store, run: str | None) -> list[dict]:
    """The arena's votes, oldest first (with --run: those that showed an image of that run)."""
    from artifacts.votes import read_votes

    rows = read_votes(store)
    if run is not None:
        run_id = resolve_run(store, run)
        rows = [v for v in rows if run_id in v["runs"]]
    return rows
