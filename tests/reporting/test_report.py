"""Report pieces: group order, the sample grid's seeds, no CI below two units, the grid_seeds option."""

import math
import re

import pytest

from artifacts.errors import BadInput
from artifacts.store import Store, image_rel
from tasks.metrics.aggregate import aggregate_samples, order_groups
from tasks.values.units import Condition, Item
from tasks.reporting.report import image_grid
from tasks.spec import spec_from_dict
from tasks.metrics.stats import bootstrap_mean_ci, paired_difference

SPEC = {"name": "s", "models": [{"name": "a", "path": "CompVis/stable-diffusion-v1-4"}], "generation": {"seeds": [0, 1]}}


def test_groups_are_all_then_challenges_then_categories_then_classes_each_alphabetical():
    groups = ["category:Vehicles", "class:tench", "challenge:Writing & Symbols", "all", "category:animals",
              "challenge:Basic", "class:French horn", "category:Abstract"]
    rows = [{"model": m, "metric": "clip_score", "group": g} for m in ("b", "a") for g in groups]
    ordered = order_groups(rows)
    assert [r["model"] for r in ordered] == ["b"] * 8 + ["a"] * 8  # models keep their run order
    assert [r["group"] for r in ordered[:8]] == ["all", "challenge:Basic", "challenge:Writing & Symbols", "category:Abstract",
                                                  "category:animals", "category:Vehicles", "class:French horn", "class:tench"]


def test_aggregated_rows_come_out_in_group_order_with_no_ci_for_one_prompt():
    samples = [{"variant": "m", "condition_id": c, "seed": 0, "sample_index": 0, "value": v}
               for c, v in (("p", 10.0), ("q", 20.0), ("r", 30.0))]
    groups = {"p": ["category:Zoo", "challenge:Basic"], "q": ["category:Art", "challenge:Basic"], "r": ["category:Art"]}
    rows = order_groups(aggregate_samples(samples, "clip_score", groups.__getitem__))
    assert [r["group"] for r in rows] == ["all", "challenge:Basic", "category:Art", "category:Zoo"]
    zoo = rows[-1]
    assert zoo["n"] == 1 and zoo["value"] == 10.0 and math.isnan(zoo["ci_low"]) and math.isnan(zoo["ci_high"])
    assert rows[0]["ci_low"] < rows[0]["value"] < rows[0]["ci_high"]


def test_no_bootstrap_ci_from_fewer_than_two_units():
    assert all(math.isnan(x) for x in bootstrap_mean_ci([3.0]) + bootstrap_mean_ci([]))
    one = paired_difference({("p", 0, 0): 3.0}, {("p", 0, 0): 1.0}, lambda s: s[0])
    assert one["n"] == 1 and one["diff"] == 2.0 and math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])


def _grid(tmp_path, seeds):
    store = Store(tmp_path / "store")
    items = [Item(f"{c}{v}{s}".ljust(64, "0"), v, v, c, s, 0) for c in ("p", "q") for v in ("a", "b") for s in (1, 0, 2)]
    for item in items:
        store.write_bytes(image_rel(item.key), b"png")
    conditions = [Condition(c, {"prompt": f"prompt {c}"}, f"prompt {c}", f"prompt {c}") for c in ("p", "q")]
    return image_grid(store, "run", items, conditions, ["a", "b"], seeds=seeds)


def test_grid_shows_the_first_seed_by_default_and_says_so(tmp_path):
    page = _grid(tmp_path, None)
    assert page.count("<img") == 4 and set(re.findall(r"title='seed (\d)'", page)) == {"0"}
    assert "Seeds shown: 0 (each variant's first seed) of 0, 1, 2 generated" in page and "grid_seeds: all" in page


@pytest.mark.parametrize("seeds, shown", [("all", ["0", "1", "2"]), ([2, 0], ["2", "0"])])
def test_grid_shows_every_chosen_seed_a_row_each(tmp_path, seeds, shown):
    page = _grid(tmp_path, seeds)
    assert page.count("<img") == 2 * 2 * len(shown)
    assert re.findall(r"prompt p · seed (\d)", page) == shown
    assert f"Seeds shown: {', '.join(sorted(shown))} (a row per seed)" in page
    assert ("grid_seeds: all" in page) == (len(shown) < 3)


def test_grid_seeds_option_is_checked_against_the_generated_seeds():
    assert spec_from_dict({**SPEC, "report": {"grid_seeds": "all"}}).report.grid_seeds == "all"
    assert spec_from_dict({**SPEC, "report": {"grid_seeds": [1]}}).report.grid_seeds == [1]
    assert spec_from_dict(SPEC).report.grid_seeds is None
    with pytest.raises(BadInput, match=r"report.grid_seeds: \[5\] names seeds that are not generated \(seeds: \[0, 1\]\)"):
        spec_from_dict({**SPEC, "report": {"grid_seeds": [5]}})
    with pytest.raises(BadInput, match="report.grid_seeds"):
        spec_from_dict({**SPEC, "report": {"grid_seeds": []}})
    seed_sweep = {**SPEC, "sweep": {"seeds": [3, 4]}, "report": {"grid_seeds": [4]}}
    assert spec_from_dict(seed_sweep).report.grid_seeds == [4]
