"""Per-group set metrics only on enough images: the flag, the one note, the spec key, the terminal."""

import math

import pytest

from artifacts.errors import BadInput
from flows.app.terminal import print_metric_rows, print_summary
from tasks.metrics.group_size import flag_small_groups, left_out_note, shown_rows
from tasks.spec import spec_from_dict

SPEC = {"name": "s", "models": [{"name": "a", "path": "CompVis/stable-diffusion-v1-4"}]}


def _set_row(group: str, n_real: int, n_fake: int, metric: str = "fid") -> dict:
    return {"model": "m", "metric": metric, "group": group, "value": 1.0, "ci_low": math.nan, "ci_high": math.nan,
            "n": n_fake, "record": {"n_real": n_real, "n_fake": n_fake}}


def _rows() -> list[dict]:
    sample = {"model": "m", "metric": "clip_score", "group": "category:Tiny", "value": 30.0, "ci_low": 29.0, "ci_high": 31.0, "n": 1}
    return [_set_row("all", 3, 4), _set_row("class:tench", 60, 50), _set_row("class:church", 80, 49),
            _set_row("class:church", 80, 49, "kid"), _set_row("class:goldfish", 10, 90), sample]


def test_set_rows_of_small_groups_are_flagged_and_all_never_is():
    flagged = flag_small_groups(_rows(), 50)
    assert [r["below_min_images"] for r in flagged] == [False, False, True, True, True, False]
    assert [r["group"] for r in shown_rows(flagged)] == ["all", "class:tench", "category:Tiny"]
    assert not any(r["below_min_images"] for r in flag_small_groups(_rows(), 3))  # the smaller side decides: 3 is enough
    assert shown_rows([{"group": "class:x"}]) == [{"group": "class:x"}]  # rows written before the flag existed all show


def test_one_note_counts_the_groups_and_rows_left_out_and_says_why():
    note = left_out_note(flag_small_groups(_rows(), 50), 50)
    assert note.startswith("2 group(s) (class:church, class:goldfish) left out of the per-group fid, kid: fewer than 50 images")
    assert "metrics.min_group_images" in note and "3 row(s) stay in metrics.parquet with below_min_images = true" in note
    assert left_out_note(flag_small_groups(_rows(), 1), 1) == ""


def test_min_group_images_defaults_to_50_and_is_settable():
    assert spec_from_dict(SPEC).metrics.min_group_images == 50
    assert spec_from_dict({**SPEC, "metrics": {"min_group_images": 5}}).metrics.min_group_images == 5
    with pytest.raises(BadInput, match="min_group_images"):
        spec_from_dict({**SPEC, "metrics": {"min_group_images": 0}})


def test_terminal_leaves_flagged_rows_out_with_one_note(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    rows = flag_small_groups(_rows(), 50)
    print_metric_rows(rows, "metrics", columns=["model", "metric", "group", "value", "n"])
    table, note = capsys.readouterr().out.split("note: ")
    assert "class:tench" in table and "class:church" not in table and "class:goldfish" not in table
    assert note.startswith("2 group(s) (class:church, class:goldfish)")
    print_summary({"variants": [], "metrics": rows, "comparisons": [], "counts": {}, "report": "/r.html"})
    out = capsys.readouterr().out
    assert out.count("note: 2 group(s)") == 1 and "class:church" in out  # named in the note only, as an example
