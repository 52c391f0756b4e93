"""The best-step section: the best step by the metric's direction, best − latest paired on the same prompts
and seeds (checked against an independent computation), the verdict, the curve PNG and the Markdown."""

from __future__ import annotations

import math

import numpy as np

from tasks.metrics.stats import bootstrap_mean_ci
from tasks.values.units import Variant
from tasks.reporting.checkpoints import best_steps, best_steps_markdown, checkpoint_section
from tasks.spec import GenerationSpec


def _variant(step: int, model: str = "run") -> Variant:
    cell = {"train_step": step}
    return Variant(f"{model}[train_step={step}]", model, 0, cell, GenerationSpec(), "StableDiffusionPipeline", "cpu", "float32")


def _rows(values: dict[int, np.ndarray], metric: str = "clip_score") -> tuple[list[dict], list[dict]]:
    """Score rows (4 prompts x 2 seeds per step) and their metric rows (mean over prompts, CI over prompts)."""
    scores, metrics = [], []
    for step, per_image in values.items():
        variant = f"run[train_step={step}]"
        for i, value in enumerate(per_image):
            scores.append({"key": f"{step}-{i}", "variant": variant, "condition_id": f"p{i // 2}", "seed": i % 2,
                           "sample_index": 0, "metric": metric, "value": float(value)})
        prompt_means = per_image.reshape(4, 2).mean(axis=1)
        low, high = bootstrap_mean_ci(prompt_means, 1000, 0)
        metrics.append({"model": variant, "metric": metric, "group": "all", "value": float(prompt_means.mean()),
                        "ci_low": low, "ci_high": high, "n": 4})
    return scores, metrics


def test_best_step_and_paired_difference_with_the_latest():
    rng = np.random.default_rng(0)
    shared = rng.normal(30, 3, 8)  # a prompt/seed effect every step shares: pairing removes it
    values = {100: shared + 0.5, 200: shared + 2.0 + rng.normal(0, 0.1, 8), 300: shared + 1.0 + rng.normal(0, 0.1, 8)}
    scores, metrics = _rows(values)
    (row,) = best_steps(metrics, scores, [_variant(s) for s in values])
    assert (row["best_step"], row["latest_step"]) == (200, 300)
    per_prompt = (values[200] - values[300]).reshape(4, 2).mean(axis=1)  # the paired unit is the prompt
    assert math.isclose(row["diff"], per_prompt.mean(), rel_tol=1e-12)
    low, high = bootstrap_mean_ci(per_prompt, 1000, 0)
    assert math.isclose(row["diff_ci_low"], low) and math.isclose(row["diff_ci_high"], high)
    assert row["n"] == 4 and row["verdict"] == "best is ahead of the latest (95% CI excludes 0)"


def test_lower_is_better_and_ties_go_to_the_later_step():
    values = {100: np.full(8, 5.0), 200: np.full(8, 3.0), 300: np.full(8, 3.0)}
    scores, metrics = _rows(values, "fid")  # FID: lower is better
    for s in scores:
        s["metric"] = "fid"
    (row,) = best_steps(metrics, [], [_variant(s) for s in values])  # a set metric: no per-image rows
    assert row["best_step"] == 300 and row["verdict"] == "the latest step is the best"


def test_set_metric_best_by_value_only():
    values = {100: np.full(8, 3.0), 200: np.full(8, 5.0)}
    _, metrics = _rows(values, "fid")
    (row,) = best_steps(metrics, [], [_variant(s) for s in values])
    assert row["best_step"] == 100 and math.isnan(row["diff_ci_low"]) and row["diff"] == -2.0
    assert row["verdict"].startswith("best by value only")


def test_section_has_a_curve_and_a_table_and_markdown():
    values = {100: np.linspace(1, 2, 8), 200: np.linspace(2, 3, 8)}
    scores, metrics = _rows(values)
    rows = best_steps(metrics, scores, [_variant(s) for s in values])
    html = checkpoint_section(metrics, rows, [_variant(s) for s in values])
    assert "Which checkpoint is best" in html and "data:image/png;base64," in html and len(rows) == 1
    assert best_steps_markdown(rows)[0] == "## Which checkpoint is best"
    plain = [Variant("a", "a", 0, {}, GenerationSpec(), "p", "cpu", "float32")]
    assert best_steps(metrics, scores, plain) == [] and checkpoint_section(metrics, [], plain) == ""


def test_prefect_summary_artifact_has_the_table():
    from tasks.reporting.summary import summary_markdown

    values = {100: np.linspace(1, 2, 8), 200: np.linspace(2, 3, 8)}
    scores, metrics = _rows(values)
    rows = best_steps(metrics, scores, [_variant(s) for s in values])
    counts = dict.fromkeys(["images_planned", "images_generated", "images_reused", "features_extracted", "features_reused"], 0)
    summary = {"spec": "s", "run_id": "r", "counts": counts, "comparisons": [], "previous_run": None, "report": "x",
               "best_steps": rows}
    text = summary_markdown(summary)
    assert "## Which checkpoint is best" in text and "| run | clip_score | 200 |" in text


def test_terminal_prints_the_best_steps(capsys):
    from flows.app.terminal import print_summary, summary_object

    values = {100: np.linspace(1, 2, 8), 200: np.linspace(2, 3, 8)}
    scores, metrics = _rows(values)
    rows = best_steps(metrics, scores, [_variant(s) for s in values])
    summary = {"variants": [], "metrics": [], "comparisons": [], "counts": {}, "report": "r.html", "best_steps": rows}
    print_summary(summary)
    out = capsys.readouterr().out
    assert "Which checkpoint is best" in out and "the latest step is the best" in out
    assert summary_object(summary)["best_steps"] == rows  # `run --json` has them
