"""GenEval's decision rules on synthetic detections, each case worked by hand from upstream's
evaluate_images.py / summary_scores.py (djghosh13/geneval): counts, thresholds, colours, positions, aggregation."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.metrics.geneval_rules import (Detection, Rules, compute_iou, detections_by_class, evaluate, relative_position,
                                         summary_scores)

CLASSES = ("person", "dog", "car")


def det(x1, y1, x2, y2, score=0.95, color=None) -> Detection:
    return Detection((x1, y1, x2, y2), score, color)


def test_threshold_is_strict_and_counting_uses_its_own():
    labels = np.array([1, 1, 1, 2])
    scores = np.array([0.95, 0.5, 0.3, 0.91])
    boxes = np.tile([0.0, 0, 10, 10], (4, 1))
    plain = detections_by_class(labels, scores, boxes, [None] * 4, CLASSES, "single_object")
    assert [d.score for d in plain["dog"]] == [0.95, 0.5]  # 0.3 is not > 0.3
    counting = detections_by_class(labels, scores, boxes, [None] * 4, CLASSES, "counting")
    assert [d.score for d in counting["dog"]] == [0.95] and "person" not in counting


def test_most_confident_first_and_at_most_max_objects():
    labels = np.zeros(20, dtype=int)
    scores = np.linspace(0.4, 0.99, 20)
    boxes = np.tile([0.0, 0, 10, 10], (20, 1))
    kept = detections_by_class(labels, scores, boxes, [None] * 20, CLASSES, "two_object")["person"]
    assert len(kept) == 16 and kept[0].score == pytest.approx(0.99) and all(a.score > b.score for a, b in zip(kept, kept[1:]))


def test_nms_only_when_max_overlap_below_one():
    labels, scores = np.array([0, 0]), np.array([0.9, 0.8])
    boxes = np.array([[0.0, 0, 10, 10], [1.0, 1, 10, 10]])
    assert compute_iou(boxes[0], boxes[1]) == pytest.approx(100 / 121)
    assert len(detections_by_class(labels, scores, boxes, [None, None], CLASSES, "x")["person"]) == 2
    nms = detections_by_class(labels, scores, boxes, [None, None], CLASSES, "x", Rules(max_overlap=0.5))
    assert len(nms["person"]) == 1


def test_counts_include_and_exclude():
    meta = {"tag": "counting", "include": [{"class": "dog", "count": 3}], "exclude": [{"class": "dog", "count": 4}]}
    assert evaluate({"dog": [det(0, 0, 1, 1)] * 2}, meta) == (False, "expected dog>=3, found 2")
    assert evaluate({"dog": [det(0, 0, 1, 1)] * 3}, meta) == (True, "")
    assert evaluate({"dog": [det(0, 0, 1, 1)] * 4}, meta) == (False, "expected dog<4, found 4")
    assert evaluate({}, meta) == (False, "expected dog>=3, found 0")


def test_two_objects_report_every_missing_clause():
    meta = {"include": [{"class": "dog", "count": 1}, {"class": "car", "count": 1}]}
    assert evaluate({}, meta) == (False, "expected dog>=1, found 0\nexpected car>=1, found 0")


def test_colour_judged_on_the_most_confident_objects_only():
    meta = {"include": [{"class": "car", "count": 1, "color": "red"}]}
    assert evaluate({"car": [det(0, 0, 1, 1, color="red"), det(0, 0, 1, 1, 0.5, color="blue")]}, meta) == (True, "")
    ok, reason = evaluate({"car": [det(0, 0, 1, 1, color="blue"), det(0, 0, 1, 1, 0.5, color="red")]}, meta)
    assert not ok and reason == "expected red car>=1, found 0 red; and 1 blue"


def test_colour_attribution_reason_lists_colours_in_upstream_order():
    meta = {"include": [{"class": "dog", "count": 2, "color": "white"}]}
    ok, reason = evaluate({"dog": [det(0, 0, 1, 1, color="white"), det(0, 0, 1, 1, color="black")]}, meta)
    assert reason == "expected white dog>=2, found 1 white; and 1 black, 1 white"


def test_relative_position_with_its_margin():
    car = det(100, 100, 200, 200)
    assert relative_position(det(0, 100, 50, 200), car) == {"left of"}
    assert relative_position(det(300, 100, 350, 200), car) == {"right of"}
    assert relative_position(det(100, 0, 200, 40), car) == {"above"}
    assert relative_position(det(100, 300, 200, 400), car) == {"below"}
    # Centres 60 px apart on x, sizes 100 + 100: the 0.1 margin shrinks the offset to 40 -> still left.
    assert relative_position(det(40, 100, 140, 200), car) == {"left of"}
    # 15 px apart: inside the margin (0.1 * 200 = 20) -> no relation at all.
    assert relative_position(det(85, 100, 185, 200), car) == set()
    # Diagonal: dx = dy after the margin -> each share is 1/sqrt(2) > 0.5 -> both relations.
    assert relative_position(det(0, 0, 50, 50), car) == {"left of", "above"}


def test_position_clause_targets_an_earlier_include():
    meta = {"include": [{"class": "car", "count": 1}, {"class": "dog", "count": 1, "position": ["left of", 0]}]}
    car = det(100, 100, 200, 200)
    assert evaluate({"car": [car], "dog": [det(0, 100, 50, 200)]}, meta) == (True, "")
    assert evaluate({"car": [car], "dog": [det(300, 100, 350, 200)]}, meta) == (False, "expected dog left of target, found right of target")
    assert evaluate({"dog": [det(0, 100, 50, 200)]}, meta) == (False, "expected car>=1, found 0\nno target for dog to be left of")


def test_summary_scores_average_tasks_not_images():
    tags = ["counting"] * 4 + ["colors"] * 2
    correct = [True, False, False, False, True, True]
    prompts = ["a", "a", "b", "b", "c", "d"]
    out = summary_scores(tags, correct, prompts)
    assert out["tasks"]["counting"] == {"score": 0.25, "correct": 1, "images": 4}
    assert out["tasks"]["colors"]["score"] == 1.0
    assert out["overall"] == pytest.approx((0.25 + 1.0) / 2)
    assert out["correct_images"] == pytest.approx(3 / 6) and out["correct_prompts"] == pytest.approx(3 / 4)
