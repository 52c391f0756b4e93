"""Plots kept in the store: the same rows give the same PNG without drawing; any changed value draws anew."""

from __future__ import annotations

import math

from artifacts.store import Store
from tasks.reporting import plots
from tasks.reporting.plot_cache import plot_key, plots_kept_in

ROWS = [{"model": m, "metric": "clip_score", "group": g, "value": v, "ci_low": v - 1, "ci_high": v + 1, "n": 5}
        for m, base in (("a", 30.0), ("b", 31.0)) for g, v in (("all", base), ("challenge:Basic", base + 0.5))]


def _counting(monkeypatch) -> list:
    drawn: list = []
    real = plots.figure_to_png
    monkeypatch.setattr(plots, "figure_to_png", lambda fig: drawn.append(1) or real(fig))
    return drawn


def test_unchanged_rows_are_not_drawn_again_and_give_the_same_png(tmp_path, monkeypatch):
    drawn = _counting(monkeypatch)
    store = Store(tmp_path / "store")
    with plots_kept_in(store):
        first = plots.forest_png(ROWS, "clip_score", 1)
        again = plots.forest_png([dict(r) for r in ROWS], "clip_score", 1)
    assert drawn == [1] and again == first and isinstance(first, tuple) and first[1] == 0
    assert again[0] == plots.forest_png(ROWS, "clip_score", 1)[0]  # drawn outside: the same bytes
    assert len(store.walk("plots", ".png")) == 1


def test_any_change_draws_anew(tmp_path, monkeypatch):
    drawn = _counting(monkeypatch)
    store = Store(tmp_path / "store")
    changed = [dict(r, value=r["value"] + 0.001) if r["group"] == "all" and r["model"] == "a" else r for r in ROWS]
    with plots_kept_in(store):
        plots.forest_png(ROWS, "clip_score", 1)
        plots.forest_png(changed, "clip_score", 1)
        plots.forest_png(ROWS, "clip_score", -1)  # the direction is in the label
    assert len(drawn) == 3 and len(store.walk("plots", ".png")) == 3


def test_keys_spell_nan_and_ignore_dict_order():
    row = {"value": math.nan, "model": "a"}
    assert plot_key("f", ([row],)) == plot_key("f", ([{"model": "a", "value": float("nan")}],))
    assert plot_key("f", ([row],)) != plot_key("g", ([row],))
