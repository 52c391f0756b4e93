"""GenEval (Ghosh et al., NeurIPS 2023): does the image hold the prompt's objects, counts, colours and positions?

Per image 1 (correct) or 0, with upstream's reason ("expected dog>=3, found 2"), from the cached
detections (tasks/extractors/geneval.py) and the prompt's clauses (the shipped GenEval metadata, or
`metrics.geneval.metadata`), judged by tasks/metrics/geneval_rules.py. Rows per variant and task
(group challenge:<task>) are plain means over prompts with bootstrap CIs; `geneval_summaries`
gives upstream's summary_scores.py figures (per task over images, overall = mean of the task means).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tasks.extractors.geneval import detections_of, geneval_extractor
from tasks.extractors.registry import Extractor, Job
from tasks.inputs.geneval_prompts import metadata_for
from tasks.metrics.geneval_rules import TASKS, Rules, detections_by_class, evaluate, summary_scores
from pydantic import Field

from tasks.plan.metric_inputs import check_geneval_prompts
from tasks.spec_metrics import Frozen
from tasks.values.metric import SampleMetric, register
from tasks.values.names import GENEVAL


def rules_of(cfg) -> Rules:
    return Rules(cfg.threshold, cfg.counting_threshold, cfg.max_objects, cfg.max_overlap, cfg.position_threshold)


def _extractor(ctx) -> Extractor:
    cfg, models = ctx.spec.metrics.geneval, ctx.prepared.metric_models
    return geneval_extractor(models[GENEVAL], models[f"{GENEVAL}.clip_model"], ctx.device, cfg.batch_size, cfg.max_per_image,
                             cfg.threshold)


def jobs(ctx) -> list[Job]:
    return [ctx.image_job(_extractor(ctx))]


def geneval_results(ctx) -> list[dict]:
    """Per item: key, variant, prompt, task, correct and upstream's reason, from cached detections."""
    cfg = ctx.spec.metrics.geneval
    rules = rules_of(cfg)
    names = detector_names(ctx)
    texts = [ctx.condition(i).text for i in ctx.items]
    metadata = metadata_for(texts, ctx.spec.resolve_path(cfg.metadata) if cfg.metadata else None)
    vectors = ctx.item_features(_extractor(ctx))["det"]
    rows = []
    for item, text, vector in zip(ctx.items, texts, vectors):
        meta = metadata[text]
        labels, scores, boxes, colors = detections_of(vector)
        correct, reason = evaluate(detections_by_class(labels, scores, boxes, colors, names, meta["tag"], rules), meta, rules)
        rows.append({"key": item.key, "variant": item.variant_id, "prompt": text, "tag": meta["tag"], "correct": correct,
                     "reason": reason})
    return rows


def detector_names(ctx) -> tuple[str, ...]:
    """The detector's label names in id order, read from its config.json (no model load)."""
    config = json.loads((Path(ctx.prepared.metric_models[GENEVAL].local_dir) / "config.json").read_text())
    id2label = {int(k): v for k, v in config["id2label"].items()}
    return tuple(id2label[i] for i in range(len(id2label)))


def score(ctx) -> np.ndarray:
    """Per item 1.0 when the image passes every clause of its prompt, else 0.0."""
    return np.array([float(r["correct"]) for r in geneval_results(ctx)])


def geneval_summaries(results: list[dict]) -> list[dict]:
    """Upstream's summary per variant: one row per task (tasks in GenEval's order) and the overall score."""
    rows = []
    for variant in dict.fromkeys(r["variant"] for r in results):
        mine = [r for r in results if r["variant"] == variant]
        summary = summary_scores([r["tag"] for r in mine], [r["correct"] for r in mine], [r["prompt"] for r in mine])
        order = sorted(summary["tasks"], key=lambda t: TASKS.index(t) if t in TASKS else len(TASKS))
        rows += [{"model": variant, "task": t, **summary["tasks"][t]} for t in order]
        rows.append({"model": variant, "task": "overall (mean of tasks)", "score": summary["overall"],
                     "correct": sum(r["correct"] for r in mine), "images": len(mine)})
    return rows


class GenevalSpec(Frozen):
    model: str = "facebook/mask2former-swin-small-coco-instance"  # upstream's detector, Mask2Former Swin-S COCO
    clip_model: str = "openai/clip-vit-large-patch14"  # upstream's colour classifier: CLIP ViT-L/14 (OpenAI weights)
    metadata: str | None = None  # a JSONL in evaluation_metadata.jsonl's format; None: the shipped GenEval set
    threshold: float = Field(default=0.3, ge=0, le=1)
    counting_threshold: float = Field(default=0.9, ge=0, le=1)
    max_objects: int = Field(default=16, gt=0)
    max_overlap: float = Field(default=1.0, gt=0, le=1)
    position_threshold: float = Field(default=0.1, ge=0)
    max_per_image: int = Field(default=100, gt=0)  # mmdet's test_cfg.max_per_image for Mask2Former
    batch_size: int = Field(default=8, gt=0)


METRIC = register(SampleMetric(
    name=GENEVAL, better="higher", aggregate="mean",
    reference_test="tests/metrics/test_geneval_rules.py::test_counts_include_and_exclude",
    jobs=jobs, score=score, settings=GenevalSpec, model_kind="transformers", extra_models=(("clip_model", "clip"),),
    check=check_geneval_prompts, rank=100,
))
