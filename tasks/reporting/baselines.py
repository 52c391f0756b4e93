"""Baselines that hold: a run is compared with the last run that passed, or one a person accepted.

A run that regressed is recorded as such, so the next night compares against the same good run and
stays red until the model is fixed or someone accepts the new values (`diffeval accept RUN`).
"""

from __future__ import annotations

import time

from artifacts import tables
from artifacts.errors import BadInput
from artifacts.runfiles import list_runs
from artifacts.store import Store

ACCEPTANCES = "acceptances"
PASSED = "passed"
REGRESSED = "regressed"


def run_verdict(verdicts: list[dict]) -> str:
    """`regressed` when any verdict is a regression, else `passed` (a first run passes: nothing to fail)."""
    return REGRESSED if any(v["verdict"] == "regressed" for v in verdicts) else PASSED


def choose_baseline(runs: list[dict], accepted: list[dict], spec_name: str, before: str) -> dict | None:
    """The baseline of a new run of `spec_name`: the most recent of its passed runs and its accepted runs.

    A passed run counts from when it ran, an accepted one from when it was accepted, so accepting an
    older run makes it the baseline now. Registry rows from before verdicts were recorded count as passed.
    Returns {"run_id", "why"} or None.
    """
    candidates = [(r["created"], r["run_id"], "last passed run") for r in runs
                  if r["name"] == spec_name and r["status"] == "completed" and r["run_id"] != before
                  and r.get("verdict") in (None, PASSED)]
    candidates += [(a["accepted"], a["run_id"], f"accepted by {a['by']}: {a['why']}") for a in accepted
                   if a["name"] == spec_name and a["run_id"] != before]
    if not candidates:
        return None
    _, run_id, why = max(candidates)
    return {"run_id": run_id, "why": why}


def acceptances(store: Store) -> list[dict]:
    rows = tables.read(store, ACCEPTANCES)
    return rows.to_pylist() if rows is not None else []


def baseline_run(store: Store, spec_name: str, before: str) -> dict | None:
    """`choose_baseline` over this store's registry and acceptances."""
    return choose_baseline(list_runs(store), acceptances(store), spec_name, before)


def accept_run(store: Store, run_id: str, by: str, why: str) -> dict:
    """Record that `by` accepted `run_id` as the baseline of its spec, and why; return the record."""
    if not by.strip():
        raise BadInput("--by: empty; pass who accepts the run, such as --by alice")
    if not why.strip():
        raise BadInput("--why: empty; pass the reason, such as --why 'new scheduler, lower CLIP score expected'")
    run = next(r for r in list_runs(store) if r["run_id"] == run_id)
    record = {"run_id": run_id, "name": run["name"], "by": by.strip(), "why": why.strip(), "accepted": time.time()}
    tables.append(store, ACCEPTANCES, [record])
    return record


def _change_text(row: dict) -> str:
    from tasks.reporting.report import fmt_number

    ci = "no CI" if row["ci_low"] != row["ci_low"] else f"95% CI {row['ci_low']:+.4f} to {row['ci_high']:+.4f}"
    return (f"{row['model']} {row['metric']} (group {row['group']}) {fmt_number(row['previous'])} -> {fmt_number(row['current'])}, "
            f"change {row['change']:+.4f} ({ci}, n {row['n']}): {row['verdict']}")


def verdict_line(summary: dict) -> str:
    """The run's verdict in one line: passed / regressed / no baseline, against which run, the worst change with its CI."""
    if summary.get("baseline_refused"):
        return f"verdict: no baseline, {summary['baseline_refused']}"
    if summary.get("previous_run") is None:
        spec = f"spec {summary['spec']}" if summary.get("spec") else "this spec"
        return f"verdict: no baseline (first run of {spec}; the next runs compare with this one)"
    parts = [f"verdict: {summary['verdict']} against run {summary['previous_run']} ({summary.get('baseline_why')})"]
    worst = summary.get("worst_change")
    parts.append(f"worst change {_change_text(worst)}" if worst else "nothing could be judged")
    rows = summary.get("regressions") or []
    skipped = [r for r in rows if r["verdict"] == "not judged"]
    if skipped:
        reasons = ", ".join(dict.fromkeys(r["why"] for r in skipped))
        parts.append(f"{len(skipped)} of {len(rows)} rows shown, not judged ({reasons})")
    if summary.get("library_note"):
        parts.append(summary["library_note"])
    return "; ".join(parts)
