"""report.html: the page frame, tables and the image grid (the verdict and plots on top: glance.py, plots.py)."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Sequence

from artifacts.store import Store, image_rel, ref_rel, run_rel
from tasks.models.provenance import provenance_line

if TYPE_CHECKING:  # annotations only: `inspect` prints numbers with fmt_number and must not load pydantic
    from tasks.values.units import Condition, Item

GRID_ROWS = 60
FOLD_ROWS = 12  # a table longer than this (past the first screen) starts folded: its caption opens it
STYLE = """footer.provenance{color:#666;font-size:.85em;border-top:1px solid #ddd;margin-top:2em}body{font-family:system-ui,sans-serif;margin:2em;color:#222;overflow-wrap:anywhere}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px;text-align:right;overflow-wrap:normal}th{background:#f4f4f4}
td.l,th.l{text-align:left}.grid img{width:160px;height:auto;image-rendering:pixelated}.warn{color:#a40}
.bad{background:#fdd}.good{background:#dfd}caption{text-align:left;font-weight:bold}
.scroll{max-width:100%;overflow-x:auto}.plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
img.plot{max-width:100%;height:auto}svg.trend{max-width:100%;height:auto}details{margin:1em 0}
summary{cursor:pointer;font-weight:bold}"""


def fmt_number(value: float) -> str:
    """4 decimals; "–" for NaN, a value that does not exist (a CI over fewer than two units)."""
    return "–" if math.isnan(value) else f"{value:.4f}"


def _fmt(value) -> str:
    return fmt_number(value) if isinstance(value, float) else html.escape(str(value))


def details(summary: str, inner: str, open_: bool = False) -> str:
    """`inner` folded under a <details> whose <summary> says what it holds."""
    return f"<details{' open' if open_ else ''}><summary>{html.escape(summary)}</summary>{inner}</details>"


def all_zero(rows: list[dict], columns: list[str]) -> bool:
    """True when every number in `columns` is 0 (or missing): such a table says nothing a sentence would not."""
    numbers = [r.get(c) for r in rows for c in columns if isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)]
    return bool(numbers) and all(v == 0 or v != v for v in numbers)


def html_table(rows: list[dict], columns: list[str], caption: str = "", row_class=None, fold: bool = True) -> str:
    """A plain HTML table of `rows` (strings left-aligned, numbers right-aligned); longer than FOLD_ROWS rows it
    starts folded under its caption (`fold`=False keeps it open)."""
    if not rows:
        return ""
    head = "".join(f"<th class='l'>{html.escape(c)}</th>" if isinstance(rows[0].get(c), str) else f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cls = f" class='{row_class(r)}'" if row_class and row_class(r) else ""
        cells = "".join(f"<td class='l'>{_fmt(r.get(c))}</td>" if isinstance(r.get(c), str) else f"<td>{_fmt(r.get(c))}</td>" for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    if fold and len(rows) > FOLD_ROWS:
        table = f"<div class='scroll'><table><tr>{head}</tr>{''.join(body)}</table></div>"
        return details(f"{caption or 'Table'} ({len(rows)} rows; click to show)", table)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<div class='scroll'><table>{cap}<tr>{head}</tr>{''.join(body)}</table></div>"


def _cell(store: Store, run_id: str, src_rel: str, name: str, alt: str, title: str) -> str:
    local = f"images/{name}.png"
    store.link_or_copy(src_rel, run_rel(run_id, local))
    return f"<td><img src='{local}' alt='{html.escape(alt)}' title='{html.escape(title)}'></td>"


def _grid_picks(items: Sequence[Item], seeds: list[int] | None) -> dict[tuple, Item]:
    """(condition, variant, seed) → its first sample; with `seeds` None, seed None → the variant's first seed."""
    picks: dict[tuple, Item] = {}
    for item in sorted(items, key=lambda i: (i.seed, i.sample_index)):
        if seeds is None:
            picks.setdefault((item.condition_id, item.variant_id, None), item)
        elif item.seed in seeds:
            picks.setdefault((item.condition_id, item.variant_id, item.seed), item)
    return picks


def _grid_caption(picks: dict[tuple, Item], items: Sequence[Item], per_seed: bool) -> str:
    shown = sorted({item.seed for item in picks.values()})
    generated = sorted({item.seed for item in items})
    which = "a row per seed" if per_seed else "each variant's first seed"
    hint = "" if shown == generated else " Set <code>report: {grid_seeds: all}</code> in the spec to show every seed."
    return (f"<p>Seeds shown: {', '.join(map(str, shown))} ({which}) of {', '.join(map(str, generated))} generated; "
            f"the first sample of each.{hint}</p>")


def image_grid(store: Store, run_id: str, items: Sequence[Item], conditions: Sequence[Condition], variants: list[str],
               seeds: str | list[int] | None = None) -> str:
    """A row per condition (per condition and seed when `seeds` is "all" or a list), a column per variant
    (after a source column when conditions are edits of a source image), the first sample; images are
    copied beside the report so the run folder stands alone. `seeds` None shows each variant's first seed."""
    chosen = sorted({i.seed for i in items}) if seeds == "all" else seeds
    picks = _grid_picks(items, chosen)
    row_seeds = [None] if chosen is None else [s for s in chosen if any(key[2] == s for key in picks)]
    sources = any("source_sha256" in c.inputs for c in conditions)
    head = "<th class='l'>condition</th>" + ("<th>source</th>" if sources else "") + "".join(f"<th>{html.escape(v)}</th>" for v in variants)
    rows = []
    for condition in conditions[:GRID_ROWS]:
        for seed in row_seeds:
            cells = []
            if sources:
                sha = condition.inputs["source_sha256"]
                cells.append(_cell(store, run_id, ref_rel(sha), f"source-{sha[:16]}", "source", "source image"))
            for variant in variants:
                item = picks.get((condition.condition_id, variant, seed))
                cells.append("<td></td>" if item is None else _cell(store, run_id, image_rel(item.key), item.key, variant, f"seed {item.seed}"))
            label = condition.label + ("" if seed is None else f" · seed {seed}")
            rows.append(f"<tr><td class='l'>{html.escape(label)}</td>{''.join(cells)}</tr>")
    more = f"<p>First {GRID_ROWS} of {len(conditions)} conditions shown.</p>" if len(conditions) > GRID_ROWS else ""
    return (f"<h2>Samples</h2>{_grid_caption(picks, items, chosen is not None)}"
            f"<div class='scroll'><table class='grid'><tr>{head}</tr>{''.join(rows)}</table></div>{more}")


def provenance_footer(facts: dict | None) -> str:
    """The report's last line: the versions, device and lock the run ran with."""
    return f"<footer class='provenance'><p>{html.escape(provenance_line(facts))}</p></footer>"


def write_report(store: Store, run_id: str, title: str, sections: list[str]) -> str:
    """Write runs/<run_id>/report.html from ready HTML sections; return its absolute path."""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>")
    rel = run_rel(run_id, "report.html")
    store.write_text(rel, page)
    return str(store.path(rel))
