"""Bad input: one line on stderr naming the input and the fix, exit code 2, nothing written (not even the store folder)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.app.cli import main
from tests.flows.helpers import t2i_spec

REPO = Path(__file__).resolve().parents[2]


def _edit(spec_path: Path, change) -> Path:
    data = yaml.safe_load(spec_path.read_text())
    change(data)
    spec_path.write_text(yaml.safe_dump(data))
    return spec_path


def _set(path, value):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


CASES = {
    "unknown spec key": (_set(["generaton"], {}), "unknown key 'generaton'"),
    "missing model folder": (_set(["models", 0, "path"], "./no-such-model"), "no-such-model': folder does not exist"),
    "org/name neither folder nor cached hub id": (_set(["models", 0, "path"], "someone/not-cached-model"),
                                                  "someone/not-cached-model is neither a folder (no such folder relative to the spec: "),
    "unknown scheduler": (_set(["models", 0, "scheduler"], "DPMSolverMultistepSchedular"), "did you mean DPMSolverMultistepScheduler"),
    "steps <= 0": (_set(["generation", "steps"], 0), "generation.steps"),
    "empty seeds": (_set(["generation", "seeds"], []), "generation.seeds"),
    "empty prompt set after filtering": (_set(["prompts", "limit"], None), None),
    "missing prompt column": (None, "prompt"),
    "unreadable prompt file": (None, "prompts.csv"),
    "bad config value": (_set(["generation", "device"], "tpu"), "generation.device"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, tiny_models, capsys):
    spec = t2i_spec(tmp_path, tiny_models)
    change, fragment = CASES[case]
    if case == "empty prompt set after filtering":
        (tmp_path / "prompts.txt").write_text("\n\n")
        fragment = "prompts"
    elif case == "missing prompt column":
        (tmp_path / "prompts.csv").write_text("caption_text,kind\na red cat,Animals\n")
        _edit(spec, _set(["prompts"], {"source": "file", "path": "prompts.csv"}))
    elif case == "unreadable prompt file":
        (tmp_path / "prompts.csv").write_bytes(b"\xff\xfe\x00\x81garbage\x00\x9f")
        _edit(spec, _set(["prompts"], {"source": "file", "path": "prompts.csv"}))
    else:
        _edit(spec, change)
    store = tmp_path / "store"
    rc = main(["run", str(spec), "--store", str(store), "--json"])
    err = capsys.readouterr()
    lines = [line for line in err.err.splitlines() if line.strip()]
    assert rc == 2, err.err
    assert len(lines) == 1 and lines[0].startswith("diffeval: error: "), err.err
    assert fragment in lines[0], lines[0]
    assert err.out == ""
    assert not store.exists(), sorted(p.relative_to(store).as_posix() for p in store.rglob("*"))


def test_a_store_that_cannot_be_created_is_one_line_exit_2(tmp_path, tiny_models, capsys):
    spec = t2i_spec(tmp_path, tiny_models)
    (tmp_path / "taken").write_text("a file where the store folder should go")
    rc = main(["run", str(spec), "--store", str(tmp_path / "taken" / "store")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines() == [f"diffeval: error: store {tmp_path / 'taken' / 'store'}: {tmp_path / 'taken'} is not a folder; "
                                        "pass --store DIR with a writable folder"]


def test_missing_spec_file_from_a_real_process_has_no_traceback(tmp_path):
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "flows.app.cli", "run", str(tmp_path / "nope.yaml"), "--store", str(tmp_path / "s")],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"diffeval: error: {tmp_path / 'nope.yaml'}: spec file not found; pass the path of an EvalSpec YAML file"]
