"""Precision / recall / density / coverage against clovaai's prdc package and torch-fidelity's PRC, on the same features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artifacts.errors import BadInput
from tasks.metrics.prdc import features_to_density_coverage, features_to_prdc, features_to_precision_recall

prdc = pytest.importorskip("prdc", reason="the prdc package (the test extra) is not installed")


def _sets(seed: int = 0, n_real: int = 120, n_fake: int = 90, d: int = 16, shift: float = 0.7):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(n_real, d)).astype(np.float32)
    fake = (rng.normal(size=(n_fake, d)) * 0.8 + shift).astype(np.float32)
    return real, fake


def test_prdc_equals_the_prdc_package_and_torch_fidelity():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    real, fake = _sets()
    ours = features_to_prdc(real, fake, nearest_k=3, density_k=5)
    pr3 = prdc.compute_prdc(real, fake, nearest_k=3)
    dc5 = prdc.compute_prdc(real, fake, nearest_k=5)
    # torch-fidelity's convention: features_1 is GENERATED, features_2 REAL.
    tf_precision, tf_recall = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), 3)
    assert abs(ours["precision"] - pr3["precision"]) < 1e-12 and abs(ours["recall"] - pr3["recall"]) < 1e-12
    assert abs(ours["precision"] - tf_precision) < 1e-6 and abs(ours["recall"] - tf_recall) < 1e-6
    assert abs(ours["density"] - dc5["density"]) < 1e-9 and abs(ours["coverage"] - dc5["coverage"]) < 1e-12
    assert 0 < ours["precision"] < 1 and 0 < ours["recall"] < 1 and 0 < ours["coverage"] < 1


def test_swapping_real_and_fake_gives_the_swapped_answer_not_the_same():
    real, fake = _sets(seed=1)
    ours, swapped = features_to_prdc(real, fake), features_to_prdc(fake, real)
    # Precision and recall trade places exactly; density and coverage are of the real balls, so they change.
    assert swapped["precision"] == ours["recall"] and swapped["recall"] == ours["precision"]
    assert ours["precision"] != ours["recall"]
    reference = prdc.compute_prdc(fake, real, nearest_k=5)
    assert abs(swapped["density"] - reference["density"]) < 1e-9 and abs(swapped["coverage"] - reference["coverage"]) < 1e-12
    assert swapped["coverage"] != ours["coverage"]


def test_hand_made_sets_and_the_tie_rule():
    # Real points on a line 0..4; k = 1: each radius is 1. Fake at 0.5 (inside), 10 (outside).
    real = np.arange(5, dtype=np.float64)[:, None]
    fake = np.array([[0.5], [10.0], [20.0]])
    precision, recall = features_to_precision_recall(real, fake, k=1)
    assert precision == pytest.approx(1 / 3)
    assert recall == pytest.approx(1.0)  # fake radii: 9.5, 9.5, 10 cover every real point
    # A fake exactly on a real ball's edge counts for precision (<=, Kynkaenniemi) but not for density (<, Naeem).
    edge = np.array([[5.0], [30.0]])
    assert features_to_precision_recall(real, edge, k=1)[0] == 0.5
    density, coverage = features_to_density_coverage(real, edge, k=1)
    assert density == 0.0 and coverage == 0.0


def test_blocks_do_not_change_the_answer(monkeypatch):
    import tasks.metrics.prdc as module

    real, fake = _sets(seed=2, n_real=50, n_fake=40)
    whole = features_to_prdc(real, fake)
    monkeypatch.setattr(module, "BLOCK", 7)
    assert features_to_prdc(real, fake) == whole


def test_too_few_images_is_one_line():
    real, fake = _sets(n_real=3, n_fake=10)
    with pytest.raises(BadInput, match="k = 3 needs more than 3 images"):
        features_to_precision_recall(real, fake, 3)


def _spec(**metrics):
    from tasks.spec import spec_from_dict

    return spec_from_dict({"name": "s", "task": "class-conditional", "classes": {"words": ["tench"]},
                           "models": [{"name": "m", "path": "x"}], "reference": {"path": "refs"},
                           "metrics": {"prdc": {}, **metrics}})


def test_registered_per_extractor_with_the_fid_group_size_rule():
    from tasks.metrics.group_size import flag_small_groups
    from tasks.values.metric import direction, enabled_metrics
    from tasks.stages.sets import fitted_settings

    spec = _spec()
    names = [m.name for m in enabled_metrics(spec)]
    assert names == ["precision_inception", "recall_inception", "density_inception", "coverage_inception"]
    assert all(direction(n) == 1 for n in names + ["coverage_dinov2"])
    # A set too small for k is scored with k cut to fit, said once (as KID's subset size).
    used, cut = fitted_settings(spec, 4, 100)
    assert used == {"prdc_inception_nearest_k": 3, "prdc_inception_density_k": 3} and cut == ["prdc_inception k 5 -> 3"]
    # Per-class rows under metrics.min_group_images are flagged like FID's; `all` rows never are.
    rows = [{"group": g, "metric": "precision_inception", "record": {"n_real": 10, "n_fake": n}} for g, n in
            (("all", 10), ("class:tench", 10), ("class:goldfish", 60))]
    assert [r["below_min_images"] for r in flag_small_groups(rows, 50)] == [False, True, True]
    assert [r["below_min_images"] for r in flag_small_groups(rows, 10)] == [False, False, False]


def test_a_spec_without_reference_images_is_one_line():
    from tasks.spec import spec_from_dict

    with pytest.raises(BadInput, match="prdc/prdc_dinov2 need a reference"):
        spec_from_dict({"name": "s", "models": [{"name": "m", "path": "x"}], "metrics": {"prdc_dinov2": {}}})
