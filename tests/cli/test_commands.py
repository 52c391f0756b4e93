"""The CLI's other commands: models tiny, inspect on an empty store; the console script's exit."""

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


def test_the_console_script_returns_mains_code_and_leaves_the_exit_no_garbage_to_walk(monkeypatch):
    """`diffeval` (pyproject's script) is console(): main's exit code, every object frozen out of the collector."""
    import gc
    import tomllib

    from flows.app import cli

    scripts = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["diffeval"] == "flows.app.cli:console"
    monkeypatch.setattr(cli, "main", lambda: 3)
    try:
        assert cli.console() == 3 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
