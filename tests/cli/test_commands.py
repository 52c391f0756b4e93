"""The CLI's other commands: models tiny, inspect on an empty store."""

from pathlib import Path

from flows.app.cli import main


def test_models_tiny_writes_loadable_folders(tmp_path, capsys):
    assert main(["models", "tiny", "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    for name in ("sd-a", "sd-b", "clip", "dit", "pix2pix", "img2img", "inception"):
        assert f"{name}: " in out
    assert (tmp_path / "m" / "sd-a" / "model_index.json").is_file()
    assert (tmp_path / "m" / "clip" / "config.json").is_file()
    assert Path(tmp_path / "m" / "inception" / "inception.pth").is_file()


def test_inspect_on_an_empty_store_says_what_to_do(tmp_path, capsys):
    assert main(["inspect", "images", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("diffeval: error: store ") and "no runs yet" in err
