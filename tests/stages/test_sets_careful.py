"""`diffeval sets` as careful as `run`: every input and option checked before anything is written, errors that name
the file or the option typed, the README's examples run as printed, a --spec with only `metrics:`."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
from PIL import Image

from flows.app.cli import main
from tests.flows.test_readme_first_spec import readme_block


def _folder(path, n: int, seed: int, size=(100, 80)) -> str:
    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path / f"{i}.png")
    return str(path)


@pytest.fixture
def here(tmp_path, tiny_models, monkeypatch):
    """A folder as the README's set-up leaves it: tiny-models/ and three image folders; the working directory."""
    (tmp_path / "tiny-models").symlink_to(tiny_models["sd-a"].parent, target_is_directory=True)
    for i, name in enumerate(("real", "generated", "other-generated")):
        _folder(tmp_path / name, 4 - (i > 0), i)
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIFFEVAL_STORE", raising=False)
    return tmp_path


def _files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_the_readmes_sets_commands_run_as_printed(here, capsys):
    lines = [ln for ln in readme_block("# set against set").splitlines() if ln.startswith("diffeval ")]
    assert len(lines) == 3
    for line in lines:
        argv = shlex.split(line.split("  #")[0])[1:]
        assert main(argv) == 0, (line, capsys.readouterr().err)
        out = capsys.readouterr().out
    second = lines[1].split("  #")[0]
    assert main(shlex.split(second)[1:]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["counts"] == {"features_extracted": 0, "features_reused": 7}
    assert "fid" in out


@pytest.mark.parametrize("argv, says", [
    (["nosuchdir", "generated"], "nosuchdir: no such folder or file (looked in"),
    (["./missing/", "generated"], "./missing/: no such folder or file"),
    (["real", "generated", "--metric", "fidd"], "--metric fidd: not a set metric"),
    (["real", "generated", "--inception-weights", "nope.pth"], "--inception-weights "),
    (["real", "generated", "--inception-weights", "tiny-models/inception/inception.pth", "--center-crop", "90",
      "--small", "error"], "real/0.png: image is 100x80, smaller than --center-crop 90"),
    (["real", "generated", "--spec", "nope.yaml"], "--spec nope.yaml: file not found"),
    (["real", "generated", "--resize-to", "100"], "--resize-to: set without a resize mode; add --resize clean or --resize legacy"),
    (["real", "generated", "--center-crop", "0"], "error: --center-crop: Input should be greater than 0; fix the option"),
    (["empty", "generated"], "empty: no images in"),
])
def test_bad_input_is_one_line_and_nothing_is_written(here, capsys, argv, says):
    assert main(["sets", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert "not available" not in err and "metrics.inception_weights" not in err and "images.path" not in err
    assert "reference." not in err and "Spec format" not in err
    assert _files(here / ".diffeval") == []


def test_wrong_weights_name_the_option_and_the_fix(here, capsys):
    (here / "corrupt.pth").write_bytes(b"not a state dict")
    for weights in ("nope.pth", "corrupt.pth"):
        assert main(["sets", "real", "generated", "--inception-weights", weights]) == 2
        err = capsys.readouterr().err
        assert err.startswith("diffeval: error: --inception-weights ") and "pass --inception-weights PATH" in err, err
    assert _files(here / ".diffeval") == []


def test_an_undecodable_image_is_named_and_nothing_is_written(here, capsys):
    (here / "generated" / "broken.png").write_bytes(b"not a png")
    assert main(["sets", "real", "generated", "--inception-weights", "tiny-models/inception/inception.pth"]) == 2
    err = capsys.readouterr().err
    assert "broken.png: cannot read image (not an image format PIL can read)" in err and "BytesIO" not in err, err
    assert _files(here / ".diffeval") == []


def test_a_spec_with_only_metrics(here, capsys):
    (here / "metrics.yaml").write_text("metrics:\n  inception_weights: tiny-models/inception/inception.pth\n  kid: {subsets: 3, subset_size: 2}\n")
    assert main(["sets", "real", "generated", "--spec", "metrics.yaml", "--metric", "kid", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["metric"] for r in rows] == ["kid", "kid_std"]
    (here / "typo.yaml").write_text("metrics:\n  kidd: {}\n")
    assert main(["sets", "real", "generated", "--spec", "typo.yaml"]) == 2
    assert "--spec typo.yaml: unknown key 'metrics.kidd'" in capsys.readouterr().err
