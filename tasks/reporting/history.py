"""History rows of one run: its metric rows with the run's time, models, fingerprints and verdicts.

One row per model (variant), metric and group: value and CI, the model's fingerprint, the row's
paired verdict against the baseline (None where the baseline has no such row) and the run's verdict.
The store table they go to is artifacts/history.py.
"""

from __future__ import annotations

import json


def run_to_history_rows(run: dict, variants: list[dict], metrics: list[dict], verdicts: list[dict]) -> list[dict]:
    """The history rows of one run.

    run: run_id, created (epoch seconds), spec, task, baseline_run, run_verdict; variants: variant,
    model, fingerprint, settings (the sweep cell); metrics: the run's metric rows; verdicts: its
    paired verdict rows (model, metric, group, verdict).
    """
    by_variant = {v["variant"]: v for v in variants}
    verdict_of = {(v["model"], v["metric"], v["group"]): v["verdict"] for v in verdicts}
    rows = []
    for m in metrics:
        variant = by_variant.get(m["model"], {})
        n = m.get("n")
        rows.append({**{k: run[k] for k in ("run_id", "created", "spec", "task", "baseline_run", "run_verdict")},
                     "model": m["model"], "model_name": variant.get("model"), "fingerprint": variant.get("fingerprint"),
                     "settings": json.dumps(variant.get("settings") or {}, sort_keys=True, default=str),
                     "metric": m["metric"], "group": m["group"], "value": m["value"], "ci_low": m.get("ci_low"),
                     "ci_high": m.get("ci_high"), "n": int(n) if n is not None and n == n else None,
                     "verdict": verdict_of.get((m["model"], m["metric"], m["group"]))})
    return rows
