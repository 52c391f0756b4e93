"""Run ids and regression verdicts against the previous run of a spec."""

from __future__ import annotations

import math
import time
import uuid

from artifacts.runfiles import list_runs
from artifacts.store import Store
from tasks.metrics.registry import direction
from tasks.names import GROUP_ALL


def new_run_id(spec_name: str) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{spec_name}-{uuid.uuid4().hex[:6]}"


def previous_run(store: Store, spec_name: str, before: str) -> str | None:
    """The latest completed run of the same spec name, other than `before`."""
    earlier = [r["run_id"] for r in list_runs(store) if r["name"] == spec_name and r["status"] == "completed" and r["run_id"] != before]
    return earlier[-1] if earlier else None


def regressions(previous: list[dict], current: list[dict], tolerance: dict[str, float]) -> list[dict]:
    """Verdict per (model, metric) of group `all`: worse by more than the tolerance is a regression.

    Without a tolerance for a metric, a regression is a value worse than the far end of the previous
    run's confidence interval.
    """
    before = {(r["model"], r["metric"]): r for r in previous if r["group"] == GROUP_ALL}
    verdicts = []
    for row in (r for r in current if r["group"] == GROUP_ALL):
        old = before.get((row["model"], row["metric"]))
        sign = direction(row["metric"])
        if old is None or sign == 0 or math.isnan(row["value"]) or math.isnan(old["value"]):
            continue
        change = row["value"] - old["value"]
        if row["metric"] in tolerance:
            worse = -sign * change > tolerance[row["metric"]]
        else:
            bound = old["ci_low"] if sign > 0 else old["ci_high"]
            worse = not math.isnan(bound) and sign * (row["value"] - bound) < 0
        verdicts.append({"model": row["model"], "metric": row["metric"], "previous": old["value"], "current": row["value"],
                         "change": change, "verdict": "regression" if worse else "ok"})
    return verdicts
