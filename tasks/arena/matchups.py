"""What the arena can show: finished runs pooled by condition, seed and sample; matchups drawn from them.

A slot is (condition, seed, sample index); its contestants are the models (variants) with an image in
it, across every chosen run. A matchup shows up to four of them, anonymised and shuffled, and carries
an HMAC of exactly what was shown, so a vote can only name images that were shown together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass, field

from artifacts import tables
from artifacts.errors import BadInput
from artifacts.inspect import resolve_run
from artifacts.runfiles import list_runs, read_run_table
from artifacts.store import Store
from tasks.values.names import GROUP_ALL

MAX_SHOWN = 4


@dataclass
class Arena:
    """The pooled runs: slots with their contestants' image keys, and what each image and condition is."""

    runs: tuple[str, ...]
    conditions: dict[str, dict]                       # condition_id -> text, label, groups, kind, source
    slots: dict[tuple[str, int, int], dict[str, str]]  # (condition, seed, sample) -> model -> image key
    images: dict[str, str]                            # image key -> sha256 (only these are served)
    sources: frozenset[str] = frozenset()             # source image sha256 of edits (served too)
    model_runs: dict[str, tuple[str, str]] = field(default_factory=dict)  # model -> (run id, variant) it came from
    secret: bytes = field(default_factory=lambda: random.SystemRandom().randbytes(32), repr=False)


def select_runs(store: Store, wanted: list[str] | None) -> list[str]:
    """Run ids from ids, id prefixes or spec names (the latest completed run of that name);
    none given: the latest completed run of every spec in the store."""
    completed = [r for r in list_runs(store) if r["status"] == "completed"]
    if not wanted:
        latest = {r["name"]: r["run_id"] for r in completed}
        if not latest:
            raise BadInput(f"store {store.root}: no finished runs; run `diffeval demo` or `diffeval run SPEC` first")
        return list(latest.values())
    return list(dict.fromkeys(resolve_run(store, w) for w in wanted))


def _condition(row: dict) -> dict:
    meta = json.loads(row["meta"]) if isinstance(row["meta"], str) else row["meta"] or {}
    groups = json.loads(row["groups"]) if isinstance(row["groups"], str) else list(row["groups"] or [])
    kind = "edit" if "source_sha256" in meta else "class" if "class_id" in meta else "prompt"
    text = meta.get("edit", row["text"]) if kind == "edit" else row["text"]
    return {"condition_id": row["condition_id"], "kind": kind, "text": text, "groups": groups,
            "source": meta.get("source_sha256"), "detail": {k: meta[k] for k in ("input", "output") if k in meta}}


def runs_to_arena(store: Store, run_ids: list[str]) -> Arena:
    """Pool the chosen runs. A model name met in two runs with other images becomes `name@run`."""
    generated = tables.read(store, tables.GENERATIONS, columns=["key", "sha256"])
    sha = {r["key"]: r["sha256"] for r in generated.to_pylist()} if generated is not None else {}
    conditions, slots, model_runs = {}, {}, {}
    for run_id in run_ids:
        for row in read_run_table(store, run_id, "conditions"):
            conditions.setdefault(row["condition_id"], _condition(row))
        for item in read_run_table(store, run_id, "items"):
            if item["key"] not in sha:
                continue
            slot = slots.setdefault((item["condition_id"], item["seed"], item["sample_index"]), {})
            name = item["variant"]
            if slot.get(name, item["key"]) != item["key"]:
                name = f"{name}@{run_id}"
            slot[name] = item["key"]
            model_runs.setdefault(name, (run_id, item["variant"]))
    # Byte-identical images are never rivals: a slot is playable only with two different images (by content).
    playable = {s: models for s, models in slots.items() if len({sha[k] for k in models.values()}) >= 2}
    if not playable:
        raise BadInput(f"runs {', '.join(run_ids)}: no condition and seed has two different images from two models; "
                       "pick runs that compare models (--run, several times) on the same prompts and seeds")
    images = {key: sha[key] for models in playable.values() for key in models.values()}
    sources = frozenset(c["source"] for c in conditions.values() if c["source"])
    return Arena(tuple(run_ids), conditions, playable, images, sources, model_runs)


def matchup_token(secret: bytes, runs: list[str], slot: tuple[str, int, int], shown: list[str]) -> str:
    """HMAC-SHA256 of what a matchup showed, in order."""
    message = json.dumps({"runs": sorted(runs), "slot": list(slot), "shown": shown}, separators=(",", ":"))
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def _model_of_key(models: dict[str, str]) -> dict[str, str]:
    """image key -> model; two models with one image (same weights and settings) count as the first."""
    out: dict[str, str] = {}
    for model, key in models.items():
        out.setdefault(key, model)
    return out


def distinct_images(arena: Arena, keys: list[str], rng: random.Random) -> list[str]:
    """One key per image content (sha256), drawn at random among byte-identical ones: a person cannot
    tell them apart, so they are never shown as rivals; each of their models stands for them in turn."""
    by_content: dict[str, list[str]] = {}
    for key in sorted(keys):
        by_content.setdefault(arena.images[key], []).append(key)
    return [rng.choice(same) for same in by_content.values()]


def draw_matchup(arena: Arena, rng: random.Random) -> dict:
    """A random slot, up to four of its different images in random order, and the token that vouches for them."""
    slot = rng.choice(list(arena.slots))
    by_key = _model_of_key(arena.slots[slot])
    candidates = distinct_images(arena, list(by_key), rng)
    shown = rng.sample(candidates, min(MAX_SHOWN, len(candidates)))
    condition = arena.conditions.get(slot[0], {"kind": "prompt", "text": slot[0], "groups": [], "source": None, "detail": {}})
    runs = sorted({arena.model_runs[by_key[k]][0] for k in shown})
    return {"runs": runs, "condition_id": slot[0], "seed": slot[1], "sample_index": slot[2], "kind": condition["kind"],
            "text": condition["text"], "detail": condition["detail"], "groups": condition["groups"],
            "source": f"/src/{condition['source']}.png" if condition["source"] else None,
            "shown": shown, "images": [f"/img/{key}.png" for key in shown],
            "matchup": matchup_token(arena.secret, runs, slot, shown)}


def models_of(arena: Arena, slot: tuple[str, int, int], shown: list[str]) -> list[str]:
    """The model of each shown image key."""
    by_key = _model_of_key(arena.slots[slot])
    return [by_key[k] for k in shown]


def arena_metrics(store: Store, arena: Arena) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Each model's automatic metrics over all prompts (group `all`) from its run, and each metric's direction
    (+1 higher is better, -1 lower is better); metrics without a direction are left out."""
    from tasks.values.metric import direction

    per_run = {run_id: read_run_table(store, run_id, "metrics") for run_id, _ in arena.model_runs.values()}
    names = {row["metric"] for rows in per_run.values() for row in rows}
    directions = {name: direction(name) for name in names if direction(name) != 0}
    values: dict[str, dict[str, float]] = {}
    for model, (run_id, variant) in arena.model_runs.items():
        for row in per_run[run_id]:
            if row["model"] == variant and row["group"] == GROUP_ALL and row["metric"] in directions:
                values.setdefault(model, {})[row["metric"]] = row["value"]
    return values, directions
