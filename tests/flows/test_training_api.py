"""The README's training-loop lines, run as they are inside a few steps of a real (tiny) training loop:
UNet noise prediction, MSE, AdamW, accelerate; evaluate() scores each checkpoint step in this process."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from artifacts import tables
from artifacts.store import Store
from tasks.reporting.trackers import log_metrics

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_training_lines() -> str:
    """The ```python block under the README's `training-loop-lines` marker."""
    text = README.read_text()
    return re.search(r"<!-- training-loop-lines[^>]*-->\n```python\n(.*?)```", text, re.S).group(1)


def _tracker(seen: list):
    from accelerate.tracking import GeneralTracker

    class Recorder(GeneralTracker):
        name, requires_logging_directory = "recorder", False

        def __init__(self):
            super().__init__()

        @property
        def tracker(self):
            return self

        def store_init_configuration(self, values):
            pass

        def log(self, values, step=None, **kwargs):
            seen.append((step, dict(values)))

    return Recorder()


def _eval_spec(folder: Path, clip: Path) -> None:
    (folder / "prompts.txt").write_text("a red cat\nthree green circles\n")
    spec = {"name": "in-loop", "prompts": {"source": "file", "path": "prompts.txt"}, "models": [{"name": "finetune", "path": "unused"}],
            "generation": {"steps": 2, "height": 64, "width": 64, "seeds": [0, 1], "batch_size": 4},
            "metrics": {"clip_score": {"model": str(clip)}}}
    (folder / "eval.yaml").write_text(yaml.safe_dump(spec))


@pytest.mark.slow  # ~30 s: four training steps and two evaluations
def test_readme_lines_in_a_training_loop(tiny_models, tmp_path, monkeypatch):
    pytest.importorskip("accelerate", reason="accelerate is not installed (pip install -e '.[test]')")
    import torch.nn.functional as F
    from accelerate import Accelerator
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    monkeypatch.chdir(tmp_path)  # eval.yaml and the default store ./.diffeval
    _eval_spec(tmp_path, tiny_models["clip"])
    base = str(tiny_models["sd-a"])
    seen: list = []
    accelerator = Accelerator(cpu=True, log_with=[_tracker(seen)])
    accelerator.init_trackers("tiny-finetune")
    tokenizer = CLIPTokenizer.from_pretrained(base, subfolder="tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(base, subfolder="text_encoder").requires_grad_(False)
    vae = AutoencoderKL.from_pretrained(base, subfolder="vae").requires_grad_(False)
    unet = UNet2DConditionModel.from_pretrained(base, subfolder="unet")
    noise_scheduler = DDPMScheduler.from_pretrained(base, subfolder="scheduler")
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    unet, optimizer = accelerator.prepare(unet, optimizer)
    args = SimpleNamespace(pretrained_model_name_or_path=base, checkpointing_steps=2)
    weight_dtype = torch.float32
    ids = tokenizer(["a red cat", "a blue dog"], padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids
    pixels = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    lines = readme_training_lines()
    losses = []
    for global_step in range(1, 5):
        unet.train()
        latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],))
        pred = unet(noise_scheduler.add_noise(latents, noise, timesteps), timesteps, text_encoder(ids)[0]).sample
        loss = F.mse_loss(pred.float(), noise.float())
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        exec(lines, {"args": args, "accelerator": accelerator, "unet": unet, "weight_dtype": weight_dtype,
                     "global_step": global_step})
    assert [step for step, _ in seen] == [2, 4] and all("diffeval/clip_score" in values for _, values in seen)
    store = Store(tmp_path / ".diffeval")
    rows = tables.read(store, tables.GENERATIONS).to_pylist()
    assert sorted({r["variant"] for r in rows}) == ["finetune[train_step=2]", "finetune[train_step=4]"]
    assert len(rows) == 8  # 2 steps x 2 prompts x 2 seeds: the weights changed between them, so did the keys


def test_same_weights_generate_nothing_and_other_processes_do_nothing(tiny_models, tmp_path):
    from diffusers import StableDiffusionPipeline

    from flows.training import evaluate

    _eval_spec(tmp_path, tiny_models["clip"])
    pipe = StableDiffusionPipeline.from_pretrained(tiny_models["sd-a"])
    store = str(tmp_path / "store")
    first = evaluate(pipe, tmp_path / "eval.yaml", step=7, store=store)
    again = evaluate(pipe, tmp_path / "eval.yaml", step=7, store=store)
    assert first == again and set(first) == {"clip_score"}
    assert len(tables.read(Store(store), tables.GENERATIONS)) == 4  # the second call generated nothing
    other = SimpleNamespace(is_main_process=False)
    assert evaluate(pipe, tmp_path / "eval.yaml", step=8, store=store, accelerator=other) == {}
    assert len(tables.read(Store(store), tables.GENERATIONS)) == 4


def test_in_memory_fingerprint_follows_the_weights(tiny_models, tmp_path):
    from diffusers import StableDiffusionPipeline

    from tasks.models.in_memory import pipeline_fingerprint

    a = StableDiffusionPipeline.from_pretrained(tiny_models["sd-a"])
    b = StableDiffusionPipeline.from_pretrained(tiny_models["sd-a"])
    assert pipeline_fingerprint(a) == pipeline_fingerprint(b)  # two loads of one folder
    with torch.no_grad():
        b.unet.conv_in.bias[0] += 1e-3
    assert pipeline_fingerprint(a) != pipeline_fingerprint(b)
    b.unet.conv_in.bias.data = a.unet.conv_in.bias.data.clone()
    b.scheduler = type(b.scheduler).from_config({**b.scheduler.config, "steps_offset": 0})
    assert pipeline_fingerprint(a) != pipeline_fingerprint(b)  # a scheduler setting changes it too


def test_trackers_get_the_values(monkeypatch):
    calls = []
    writer = SimpleNamespace(add_scalar=lambda key, value, global_step: calls.append(("tb", key, value, global_step)))
    fake_wandb = types.ModuleType("wandb")
    fake_wandb.run = object()
    fake_wandb.log = lambda values, step: calls.append(("wandb", values, step))
    monkeypatch.setitem(sys.modules, "wandb", fake_wandb)
    used = log_metrics({"clip_score": 30.5}, 12, writer=writer)
    assert used == ["tensorboard", "wandb"]
    assert calls == [("tb", "diffeval/clip_score", 30.5, 12), ("wandb", {"diffeval/clip_score": 30.5}, 12)]
