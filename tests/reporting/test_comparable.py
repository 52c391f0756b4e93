"""Which runs compare: the same extractor fingerprints (refused otherwise, naming what changed); library versions named."""

from tasks.reporting.baselines import verdict_line
from tasks.reporting.comparable import comparable_runs, extractor_changes, library_note, refusal

CLIP = {"clip_score": {"extractors": {"clip-image": "clip-image-aaaa", "clip-text": "clip-text-bbbb"},
                       "settings": {"model": "tiny-models/clip", "batch_size": 32}}}


def _other_clip(model="other/clip"):
    return {"clip_score": {"extractors": {"clip-image": "clip-image-cccc", "clip-text": "clip-text-bbbb"},
                           "settings": {"model": model, "batch_size": 32}}}


def test_other_weights_are_named_and_the_comparison_refused():
    (change,) = extractor_changes(CLIP, _other_clip())
    assert change == ("clip_score extractor changed (clip-image clip-image-aaaa -> clip-image-cccc; "
                      "settings model tiny-models/clip -> other/clip)")
    (same_path,) = extractor_changes(CLIP, _other_clip("tiny-models/clip"))
    assert same_path.endswith("same settings, other model files)")
    line = refusal("r1", [change])
    assert "\n" not in line and line.startswith("not compared with run r1: clip_score extractor changed")
    summary = {"spec": "s", "previous_run": None, "baseline_refused": line, "verdict": "passed", "regressions": []}
    assert verdict_line(summary) == f"verdict: no baseline, {line}"


def test_the_same_extractors_or_an_older_run_without_a_record_compare():
    assert extractor_changes(CLIP, CLIP) == [] and extractor_changes(None, CLIP) == [] and extractor_changes({}, CLIP) == []
    # a metric the baseline did not compute is no reason to refuse the others
    assert extractor_changes(CLIP, {**CLIP, "pickscore": {"extractors": {"x": "y"}, "settings": {}}}) == []


def test_history_keeps_runs_of_the_same_extractors():
    keep, note = comparable_runs({"r1": _other_clip(), "r2": None, "r3": CLIP}, CLIP)
    assert keep == {"r2", "r3"} and note.startswith("1 earlier run(s) left out: measured with other extractors (clip_score")


def test_library_versions_are_named_when_they_differ_and_unknown_for_old_runs():
    old = {"python": "3.11.7", "torch": "2.13.0", "diffusers": "0.42.1", "device": "cpu"}
    new = {"python": "3.11.7", "torch": "2.14.1", "diffusers": "0.42.1", "device": "cpu"}
    assert library_note(old, new) == "library versions differ: torch 2.13.0 -> 2.14.1"
    assert library_note(new, new) == ""
    assert library_note(None, new) == "library versions of the baseline unknown (recorded before runs kept them)"
    row = {"model": "a", "metric": "clip_score", "group": "all", "previous": 30.0, "current": 29.9, "change": -0.1,
           "ci_low": -0.3, "ci_high": 0.1, "n": 6, "verdict": "unchanged", "why": "CI includes 0"}
    line = verdict_line({"spec": "s", "previous_run": "r1", "baseline_why": "last passed run", "verdict": "passed",
                         "regressions": [row], "worst_change": row, "library_note": library_note(old, new)})
    assert line == ("verdict: passed against run r1 (last passed run); worst change a clip_score (group all) 30.0000 -> 29.9000, "
                    "change -0.1000 (95% CI -0.3000 to +0.1000, n 6): unchanged; library versions differ: torch 2.13.0 -> 2.14.1")
