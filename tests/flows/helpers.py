"""Small specs on tiny models for the end-to-end tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

PROMPTS = ["a red cat", "a blue dog on a sofa", "three green circles"]


def write_prompts(folder: Path, prompts: list[str]) -> Path:
    path = folder / "prompts.txt"
    path.write_text("\n".join(prompts) + "\n")
    return path


def t2i_spec(folder: Path, tiny: dict, prompts: list[str] = PROMPTS, names=("a", "b"), **overrides) -> Path:
    """A text-to-image spec: the given prompts, tiny SD models, 64x64, 2 steps, CLIP score."""
    write_prompts(folder, prompts)
    spec = {
        "name": "t2i-test", "task": "text-to-image", "prompts": {"source": "file", "path": "prompts.txt"},
        "models": [{"name": n, "path": str(tiny["sd-a" if i == 0 else "sd-b"])} for i, n in enumerate(names)],
        "generation": {"steps": 2, "height": 64, "width": 64, "seeds": [0], "batch_size": 4, "dtype": "float32", "device": "cpu"},
        "metrics": {"clip_score": {"model": str(tiny["clip"])}},
    }
    for key, value in overrides.items():
        spec[key] = {**spec[key], **value} if isinstance(value, dict) and isinstance(spec.get(key), dict) else value
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def regression_spec(folder: Path, tiny: dict, swapped: bool) -> str:
    """Models a and b; `swapped` points each name at the other's weights, so one of them gets worse.

    One prompt and one seed: no CI, so (with the group minimum lowered to 1) the paired point estimate
    against the spec's explicit tolerance 0 decides (the CI path is tested in
    tests/reporting/test_verdicts.py). The swapped spec reuses every image.
    """
    paths = [tiny["sd-b"], tiny["sd-a"]] if swapped else [tiny["sd-a"], tiny["sd-b"]]
    models = [{"name": n, "path": str(p)} for n, p in zip("ab", paths)]
    metrics = {"clip_score": {"model": str(tiny["clip"])}, "min_group_conditions": 1}
    # A prompt whose CLIP scores are positive (about 16 and 22 on the tiny models): CLIP score's table value
    # is max(mean, 0), and the verdict compares those values, so two negative means would both read 0.
    return str(t2i_spec(folder, tiny, ["a blue dog on a sofa"], models=models, metrics=metrics,
                        regression={"tolerance": {"clip_score": 0.0}, "fail": True}))


def _upstream(task_run) -> set:
    return {i.id for inputs in task_run.task_inputs.values() for i in inputs}


def assert_dag(task_runs: list) -> None:
    """The task runs of one evaluation that generated images form the DAG: prepare -> generate -> extract -> score."""
    by_name: dict[str, list] = {}
    for t in task_runs:
        by_name.setdefault(t.name.rsplit("-", 1)[0], []).append(t)
    (prepare,), generate, (extract,), (score,) = (by_name[n] for n in ("prepare-and-plan", "generate", "extract", "score-and-report"))
    assert generate and all(_upstream(g) == {prepare.id} for g in generate)
    assert _upstream(extract) == {g.id for g in generate} and _upstream(score) == {extract.id}


def assert_warm_dag(task_runs: list) -> None:
    """The task runs of an evaluation that found every image and feature in the store: prepare -> score, nothing else."""
    (prepare, score) = sorted(task_runs, key=lambda t: t.name.startswith("score-and-report"))
    assert prepare.name.startswith("prepare-and-plan") and score.name.startswith("score-and-report")
    assert _upstream(score) == {prepare.id}


def sigint_as_by_default() -> None:
    """preexec_fn of a process a test sends SIGINT to: a shell that ran the tests in the background (`cmd &`
    in a script) passes SIGINT on ignored, and diffeval, rightly, keeps it ignored then."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def session_pids(sid: int) -> list[int]:
    """Live processes of session `sid` (a run started as its leader): the run, its children and their orphans."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def run_until_images(spec: Path, store: Path, env: dict, stderr: Path, images: int) -> subprocess.Popen:
    """`diffeval run` as the leader of a new session, returned once `images` PNGs are in the store (or it ended)."""
    repo = Path(__file__).resolve().parents[2]
    with open(stderr, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "flows.app.cli", "run", str(spec), "--store", str(store)], cwd=repo,
                                env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                preexec_fn=sigint_as_by_default)
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None and len(list(store.glob("images/*/*.png"))) < images:
        time.sleep(0.05)
    return proc
