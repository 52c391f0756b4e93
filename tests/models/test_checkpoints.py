"""A folder of checkpoint-<step> folders as a model: the three layouts, fingerprints, planning, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from artifacts.errors import BadInput
from artifacts.store import Store
from tasks.demo.tiny_checkpoints import build_tiny_checkpoints, build_tiny_run
from tasks.models.checkpoints import STEP_AXIS, load_checkpoint
from tasks.plan.prepare import prepare


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A tiny base SD, a UNet-only run (3 steps), a LoRA run (2 steps) and a pipeline run (1 step)."""
    out = tmp_path_factory.mktemp("runs")
    paths = build_tiny_run(out, "unet", (100, 200, 300))
    paths["lora"] = build_tiny_checkpoints(out / "lora", paths["base"], "lora", (100, 200))
    paths["pipeline"] = build_tiny_checkpoints(out / "pipeline", paths["base"], "pipeline", (100,))
    return paths


def write_spec(folder: Path, models: list[dict], clip: Path) -> Path:
    (folder / "prompts.txt").write_text("a red cat\nthree green circles\n")
    spec = {"name": "ckpt", "prompts": {"source": "file", "path": "prompts.txt"}, "models": models,
            "generation": {"steps": 2, "height": 64, "width": 64, "seeds": [0], "batch_size": 4, "dtype": "float32", "device": "cpu"},
            "metrics": {"clip_score": {"model": str(clip)}}}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_each_step_is_a_variant_with_its_own_fingerprint(runs, tiny_models, tmp_path):
    spec = write_spec(tmp_path, [{"name": "full", "checkpoints": str(runs["run"]), "base": str(runs["base"])},
                                 {"name": "lora", "checkpoints": str(runs["lora"]), "base": str(runs["base"])},
                                 {"name": "pipe", "checkpoints": str(runs["pipeline"])}], tiny_models["clip"])
    prepared = prepare(spec, Store(tmp_path / "store"))
    assert [v.variant_id for v in prepared.variants] == ["full[train_step=100]", "full[train_step=200]", "full[train_step=300]",
                                                         "lora[train_step=100]", "lora[train_step=200]", "pipe[train_step=100]"]
    assert [v.cell[STEP_AXIS] for v in prepared.variants] == [100, 200, 300, 100, 200, 100]
    kinds = [prepared.model_of(v).kind for v in prepared.variants]
    assert kinds == ["unet"] * 3 + ["lora"] * 2 + ["pipeline"]
    assert len({prepared.model_of(v).fingerprint for v in prepared.variants}) == 6
    assert len({i.key for i in prepared.items}) == len(prepared.items) == 12  # 6 steps x 2 prompts, no key shared


def test_fingerprint_ignores_optimizer_state(runs, tiny_models, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["run"], run)
    spec = write_spec(tmp_path, [{"name": "full", "checkpoints": "run", "base": str(runs["base"])}], tiny_models["clip"])
    before = [i.key for i in prepare(spec, Store(tmp_path / "store")).items]
    (run / "checkpoint-100" / "optimizer.bin").write_bytes(b"other optimizer state")
    assert [i.key for i in prepare(spec, Store(tmp_path / "store")).items] == before


@pytest.mark.parametrize("kind", ["unet", "lora", "pipeline"])
def test_each_layout_loads_and_differs_from_the_base(runs, kind):
    from diffusers import StableDiffusionPipeline

    from tasks.models.checkpoints import resolve_checkpoints
    from tasks.spec import spec_from_dict

    folder = {"unet": runs["run"], "lora": runs["lora"], "pipeline": runs["pipeline"]}[kind]
    spec = spec_from_dict({"name": "x", "models": [{"name": "m", "checkpoints": str(folder), "base": str(runs["base"])}]})
    step = resolve_checkpoints(spec, 0)["m@100"]
    pipe = load_checkpoint(step, "StableDiffusionPipeline", None, "float32", "cpu")
    base = StableDiffusionPipeline.from_pretrained(runs["base"])
    x = base.unet.conv_in.weight if kind != "lora" else None
    if kind == "lora":
        assert pipe.unet.peft_config  # the adapter is attached
        import torch

        sample, t, text = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([10]), torch.randn(1, 4, 32)
        with torch.no_grad():
            assert not torch.allclose(pipe.unet(sample, t, text).sample, base.unet(sample, t, text).sample)
    else:
        assert not pipe.unet.conv_in.weight.equal(x)


def test_no_checkpoints_is_one_line(tiny_models, tmp_path):
    (tmp_path / "empty").mkdir()
    spec = write_spec(tmp_path, [{"name": "m", "checkpoints": "empty"}], tiny_models["clip"])
    with pytest.raises(BadInput, match=r"models\[m\]\.checkpoints '.*empty': no checkpoint-<step> folders in it; pass") as err:
        prepare(spec, Store(tmp_path / "store"))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kind", ["run", "lora"])
def test_partial_checkpoints_without_base(runs, tiny_models, tmp_path, kind):
    spec = write_spec(tmp_path, [{"name": "m", "checkpoints": str(runs[kind])}], tiny_models["clip"])
    what = "a UNet" if kind == "run" else "LoRA weights"
    with pytest.raises(BadInput, match=rf"checkpoint-100 holds {what}, not a pipeline; add base: "):
        prepare(spec, Store(tmp_path / "store"))


def test_base_without_checkpoints_is_refused(tiny_models, tmp_path):
    spec = write_spec(tmp_path, [{"name": "m", "path": str(tiny_models["sd-a"]), "base": str(tiny_models["sd-a"])}], tiny_models["clip"])
    with pytest.raises(BadInput, match="base is the pipeline a checkpoints: folder applies to"):
        prepare(spec, Store(tmp_path / "store"))


def test_step_that_fails_to_load_names_its_folder(runs, tmp_path):
    from tasks.models.checkpoints import resolve_checkpoints
    from tasks.spec import spec_from_dict

    run = tmp_path / "run"
    shutil.copytree(runs["run"], run)
    weights = next((run / "checkpoint-200" / "unet").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:1000])  # a truncated file, as a crash mid-save leaves
    spec = spec_from_dict({"name": "x", "models": [{"name": "m", "checkpoints": str(run), "base": str(runs["base"])}]})
    steps = resolve_checkpoints(spec, 0)
    load_checkpoint(steps["m@100"], "StableDiffusionPipeline", None, "float32", "cpu")  # the others load
    with pytest.raises(BadInput, match=r"/run: checkpoint-200 failed to load \(.*\); fix or remove that folder") as err:
        load_checkpoint(steps["m@200"], "StableDiffusionPipeline", None, "float32", "cpu")
    assert "\n" not in str(err.value)


def test_readme_steps_spec_is_valid():
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S) if b.startswith("# steps.yaml")]
    from tasks.spec import spec_from_dict

    spec = spec_from_dict(yaml.safe_load(block))
    assert [(m.checkpoints, m.base) for m in spec.models] == [("runs/sd-pokemon", "CompVis/stable-diffusion-v1-4"),
                                                              ("runs/sd-pokemon-lora", "CompVis/stable-diffusion-v1-4")]
