"""GenEval's decision rules as pure functions: detections in, pass/fail with upstream's reason out.

An independent transcription of djghosh13/geneval evaluation/evaluate_images.py (`evaluate`,
`relative_position`, `compute_iou`, the per-class filtering of `evaluate_image`) and
evaluation/summary_scores.py (per-task mean over images, overall = mean of the task means). The
colour of each kept object comes precomputed (CLIP zero-shot on its masked crop, done at extraction
time), so these functions need no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tasks.inputs.geneval_prompts import COLORS

TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")  # upstream's order


@dataclass(frozen=True)
class Rules:
    """Upstream's options (evaluate_images.py `--options`) with its defaults."""

    threshold: float = 0.3
    counting_threshold: float = 0.9
    max_objects: int = 16
    max_overlap: float = 1.0  # NMS_THRESHOLD: 1 keeps every detection
    position_threshold: float = 0.1


@dataclass(frozen=True)
class Detection:
    """One kept object: box (x1, y1, x2, y2) in pixels, detector score, and its colour (None: not classified)."""

    box: tuple[float, float, float, float]
    score: float
    color: str | None = None


def compute_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """IoU with upstream's +1 pixel convention."""
    def area(b):
        return max(b[2] - b[0] + 1, 0) * max(b[3] - b[1] + 1, 0)
    inter = area([max(box_a[0], box_b[0]), max(box_a[1], box_b[1]), min(box_a[2], box_b[2]), min(box_a[3], box_b[3])])
    union = area(box_a) + area(box_b) - inter
    return inter / union if union else 0


def detections_by_class(labels: np.ndarray, scores: np.ndarray, boxes: np.ndarray, colors: Sequence[str | None],
                        classnames: Sequence[str], tag: str, rules: Rules = Rules()) -> dict[str, list[Detection]]:
    """Per class name the detections above the task's threshold, most confident first, at most max_objects,
    greedy NMS at max_overlap (1: none), as evaluate_image keeps them; classes with none are absent."""
    threshold = rules.counting_threshold if tag == "counting" else rules.threshold
    out: dict[str, list[Detection]] = {}
    for index, name in enumerate(classnames):
        mine = np.flatnonzero(labels == index)
        order = mine[np.argsort(-scores[mine], kind="stable")]
        order = [int(i) for i in order if scores[i] > threshold][: rules.max_objects]
        kept = []
        while order:
            best = order.pop(0)
            kept.append(Detection(tuple(float(v) for v in boxes[best]), float(scores[best]), colors[best]))
            order = [i for i in order if rules.max_overlap == 1 or compute_iou(boxes[best], boxes[i]) < rules.max_overlap]
        if kept:
            out[name] = kept
    return out


def relative_position(a: Detection, b: Detection, position_threshold: float = 0.1) -> set[str]:
    """Where A is relative to B, factoring in object sizes: the centre offset shrunk by the threshold times
    both sizes on each axis, then a direction counts when its share of the normalised offset passes 0.5."""
    boxes = np.array([a.box, b.box], dtype=np.float64).reshape(2, 2, 2)
    center_a, center_b = boxes.mean(axis=-2)
    dim_a, dim_b = np.abs(np.diff(boxes, axis=-2))[..., 0, :]
    offset = center_a - center_b
    revised = np.maximum(np.abs(offset) - position_threshold * (dim_a + dim_b), 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    relations = set()
    if dx < -0.5:
        relations.add("left of")
    if dx > 0.5:
        relations.add("right of")
    if dy < -0.5:
        relations.add("above")
    if dy > 0.5:
        relations.add("below")
    return relations


def _color_reason(req: dict, found: list[Detection]) -> str | None:
    colors = [d.color for d in found]
    if colors.count(req["color"]) >= req["count"]:
        return None
    return (f"expected {req['color']} {req['class']}>={req['count']}, found {colors.count(req['color'])} {req['color']}; and "
            + ", ".join(f"{colors.count(c)} {c}" for c in COLORS if c in colors))


def _position_reasons(req: dict, found: list[Detection], targets: list[Detection] | None, threshold: float) -> list[str]:
    expected, _ = req["position"]
    if targets is None:
        return [f"no target for {req['class']} to be {expected}"]
    for obj in found:
        for target in targets:
            true_rels = relative_position(obj, target, threshold)
            if expected not in true_rels:
                return [f"expected {req['class']} {expected} target, found {' and '.join(true_rels)} target"]
    return []


def evaluate(objects: dict[str, list[Detection]], metadata: dict, rules: Rules = Rules()) -> tuple[bool, str]:
    """Pass/fail of one image against its prompt's clauses, and upstream's reasons (one per line).

    'include' clauses combine with AND, 'exclude' with OR; colour and position are judged on the
    `count` most confident objects of the class; a position names an earlier include clause as target.
    """
    reasons: list[str] = []
    matched_groups: list[list[Detection] | None] = []
    for req in metadata.get("include", []):
        found = objects.get(req["class"], [])[: req["count"]]
        failed: list[str] = []
        if len(found) < req["count"]:
            failed.append(f"expected {req['class']}>={req['count']}, found {len(found)}")
        else:
            if "color" in req:
                failed += [r for r in [_color_reason(req, found)] if r]
            if "position" in req and not failed:
                failed += _position_reasons(req, found, matched_groups[req["position"][1]], rules.position_threshold)
        reasons += failed
        matched_groups.append(None if failed else found)
    for req in metadata.get("exclude", []):
        if len(objects.get(req["class"], [])) >= req["count"]:
            reasons.append(f"expected {req['class']}<{req['count']}, found {len(objects[req['class']])}")
    return not reasons, "\n".join(reasons)


def summary_scores(tags: Sequence[str], correct: Sequence[bool], prompts: Sequence[str]) -> dict:
    """summary_scores.py on per-image results: per task mean over images (tasks in first-seen order),
    overall = mean of the task means, and the share of correct images and of prompts with any correct image."""
    correct_arr = np.asarray(correct, dtype=np.float64)
    tasks = {}
    for tag in dict.fromkeys(tags):
        mine = correct_arr[[t == tag for t in tags]]
        tasks[tag] = {"score": float(mine.mean()), "correct": int(mine.sum()), "images": int(mine.size)}
    by_prompt: dict[str, bool] = {}
    for prompt, ok in zip(prompts, correct):
        by_prompt[prompt] = by_prompt.get(prompt, False) or bool(ok)
    return {"tasks": tasks, "overall": float(np.mean([t["score"] for t in tasks.values()])) if tasks else float("nan"),
            "correct_images": float(correct_arr.mean()) if correct_arr.size else float("nan"),
            "correct_prompts": float(np.mean(list(by_prompt.values()))) if by_prompt else float("nan")}
