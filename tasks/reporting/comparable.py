"""Whether two runs may be compared: the same extractors (weights, preprocessing), and which libraries differ.

A baseline or history comparison between runs whose extractor fingerprints differ is refused: their
numbers are on other scales (another CLIP, another Inception preprocessing), so a change would say
nothing about the model. Runs on other library versions are compared, and the verdict says which
versions moved. Runs recorded before either record existed are compared, and the verdict says the
versions are unknown.
"""

from __future__ import annotations

from tasks.values.metric import enabled_metrics

PROVENANCE_KEYS = ("python", "torch", "diffusers", "transformers", "torchmetrics", "open_clip", "device", "cuda", "cudnn",
                   "lock_sha256")


def extractor_record(ctx) -> dict:
    """Per enabled metric: its extractors' fingerprints by name, and its settings in the spec (to name a change)."""
    spec = ctx.spec
    sections = spec.metrics.model_dump(by_alias=True, mode="json")
    record = {}
    for metric in enabled_metrics(spec):
        prints = {job.extractor.name: job.extractor.fingerprint for job in metric.jobs(ctx)}
        settings = sections.get(metric.name) or spec.metrics.options.get(metric.name) or {}
        if metric.kind == "set":
            settings = {**settings, "inception_weights": spec.metrics.inception_weights}
        record[metric.name] = {"extractors": dict(sorted(prints.items())), "settings": settings}
    return record


def _short(fingerprint: str | None) -> str:
    return "none" if fingerprint is None else fingerprint if len(fingerprint) <= 24 else fingerprint[:21] + "..."


def extractor_changes(baseline: dict | None, current: dict) -> list[str]:
    """What changed in the extractors of the metrics both runs have, one phrase per metric ([] when nothing did,
    or when the baseline has no record: runs from before it was kept)."""
    if not baseline:
        return []
    out = []
    for metric, mine in current.items():
        theirs = baseline.get(metric)
        if theirs is None or theirs.get("extractors") == mine["extractors"]:
            continue
        names = sorted(set(theirs["extractors"]) | set(mine["extractors"]))
        moved = [f"{n} {_short(theirs['extractors'].get(n))} -> {_short(mine['extractors'].get(n))}" for n in names
                 if theirs["extractors"].get(n) != mine["extractors"].get(n)]
        old, new = theirs.get("settings") or {}, mine.get("settings") or {}
        settings = [f"{k} {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        why = f"settings {', '.join(settings)}" if settings else "same settings, other model files"
        out.append(f"{metric} extractor changed ({'; '.join(moved)}; {why})")
    return out


def refusal(baseline_run: str, changes: list[str]) -> str:
    """The one line that says why a run is not compared with its baseline."""
    return (f"not compared with run {baseline_run}: {'; '.join(changes)}; other weights or preprocessing give numbers "
            f"on another scale (the next runs compare with this one)")


def library_note(baseline: dict | None, current: dict | None) -> str:
    """'library versions differ: torch 2.13.0 -> 2.14.1', 'library versions unknown ...' or '' when the same."""
    if not baseline or not current:
        return "library versions of the baseline unknown (recorded before runs kept them)" if not baseline else ""
    moved = [f"{k} {baseline.get(k)} -> {current.get(k)}" for k in PROVENANCE_KEYS
             if k in baseline and k in current and baseline.get(k) != current.get(k)]
    return f"library versions differ: {', '.join(moved)}" if moved else ""


def comparable_runs(records: dict[str, dict | None], current: dict) -> tuple[set[str], str]:
    """Of runs (id -> extractor record, None when unknown) those comparable with `current`, and a note on the rest."""
    left_out = {run: extractor_changes(record, current) for run, record in records.items()}
    left_out = {run: changes for run, changes in left_out.items() if changes}
    if not left_out:
        return set(records), ""
    first = next(iter(left_out.values()))
    return set(records) - set(left_out), (f"{len(left_out)} earlier run(s) left out: measured with other extractors "
                                          f"({first[0]}{', ...' if len(left_out) > 1 else ''})")
