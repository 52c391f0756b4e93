"""KID subset_size and IS splits cut to fit a small set: used as cut, recorded in the row, warned about."""

from __future__ import annotations

import logging

import numpy as np

from tasks.metrics.inception_score import logits_to_inception_score
from tasks.metrics.kid import features_to_kid
from tasks.reporting.fragility import fragility_section
from tasks.plan.references import set_metrics_of
from tasks.stages.sets import fitted_settings, fragility_record, warn_reduced
from tasks.values.names import IS, KID
from tasks.spec import spec_from_dict


def spec(kid_size: int = 4, splits: int = 10):
    return spec_from_dict({"name": "s", "task": "class-conditional", "classes": {"words": ["tench"]},
                           "models": [{"name": "dit", "path": "x/y"}], "reference": {"path": "refs"},
                           "metrics": {"kid": {"subsets": 5, "subset_size": kid_size}, "is": {"splits": splits}}})


def features(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"pool": rng.normal(size=(n, 2048)).astype(np.float32), "logits": rng.normal(size=(n, 1008)).astype(np.float32)}


def test_settings_are_cut_to_the_smaller_set_and_said_so():
    assert fitted_settings(spec(), 9, 6) == ({"kid_subset_size": 4, "is_splits": 6}, ["is splits 10 -> 6"])
    assert fitted_settings(spec(), 9, 3) == ({"kid_subset_size": 3, "is_splits": 3},
                                              ["kid subset_size 4 -> 3", "is splits 10 -> 3"])
    assert fitted_settings(spec(kid_size=2, splits=2), 9, 3) == ({"kid_subset_size": 2, "is_splits": 2}, [])


def test_the_values_use_what_the_record_says():
    real, fake = features(9, 0), features(3, 1)
    record = fragility_record(spec(), [{"format": "png"}], 9, 3)
    assert (record["kid_subset_size"], record["is_splits"], record["n_fake"]) == (3, 3, 3)
    values = dict(pair for m in set_metrics_of(spec()) for pair in m.score(spec(), real, fake, record, 7))
    assert values[KID] == features_to_kid(real["pool"], fake["pool"], 5, 3, seed=7)[0]
    assert values[IS] == logits_to_inception_score(fake["logits"], 3, seed=7)[0]


def test_one_warning_and_a_report_note_for_the_cut_sets(caplog):
    cut = fragility_record(spec(), [{"format": "png"}], 9, 3)
    whole = fragility_record(spec(kid_size=2, splits=2), [{"format": "png"}], 9, 3)
    rows = [{"model": "dit", "metric": m, "group": g, "record": r}
            for m in (KID, IS) for g, r in (("all", whole), ("class:tench", cut), ("class:church", cut))]
    with caplog.at_level(logging.WARNING, logger="diffeval"):
        warn_reduced(rows)
    assert [r.getMessage() for r in caplog.records] == [
        "KID subset_size / IS splits cut to fit 2 small set(s) (first: dit class:tench: kid subset_size 4 -> 3, "
        "is splits 10 -> 3); the values used are in each row's record; add images or lower "
        "metrics.kid.subset_size / metrics.is.splits"]
    section = fragility_section(rows)
    assert "were cut to fit small sets" in section and "dit class:church: kid subset_size 4 -&gt; 3" in section
    caplog.clear()
    warn_reduced([row for row in rows if row["group"] == "all"])
    assert caplog.records == []
