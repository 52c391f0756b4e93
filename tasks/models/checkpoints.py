"""A training run's folder as a model: each `checkpoint-<step>` folder that diffusers' training scripts write.

The layouts, as the example scripts write them (each checkpoint is read as whichever it holds):
- pipeline: a whole pipeline (model_index.json), as `save_pretrained` writes it;
- unet: accelerate's `save_state` folder of examples/text_to_image/train_text_to_image.py: its save hook
  writes `unet/` (and `unet_ema/` with --use_ema) beside optimizer and RNG states; applied to `base`. The
  script's final pipeline carries the EMA weights, so `unet_ema/` is the one evaluated when present;
- lora: the `save_state` folder of train_text_to_image_lora.py: `pytorch_lora_weights.safetensors`
  (`save_lora_weights`), loaded into `base` with `load_lora_weights` (needs peft).

Only what is loaded is fingerprinted (never optimizer.bin): a step's key changes exactly when its weights do.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from artifacts.errors import BadInput
from artifacts.keys import file_sha256
from tasks.models.resolve import ResolvedModel, fingerprint_folder, load_pipeline, quiet_libraries, resolve_model, scheduler_class

CHECKPOINT_FOLDER = re.compile(r"^checkpoint-(\d+)$")
LORA_FILE = "pytorch_lora_weights.safetensors"
STEP_AXIS = "train_step"  # the variant setting a step is (cell key): `model[train_step=500]`
UNET_FOLDERS = ("unet_ema", "unet")  # EMA first: the weights the training script ships


@dataclass(frozen=True)
class CheckpointModel(ResolvedModel):
    """One step of a training run. `local_dir` is the pipeline folder planning reads (model_index.json,
    scheduler): the checkpoint itself for a pipeline, else the base; `weights` what the step adds."""

    step: int = 0
    kind: str = "pipeline"  # pipeline | unet | lora
    weights: str = ""
    folder: str = ""


def model_key(name: str, step: int | None) -> str:
    """The key of a model in Prepared.models: its name, or `name@step` for one step of a checkpoints folder."""
    return name if step is None else f"{name}@{step}"


def steps_of(models: dict[str, ResolvedModel], name: str) -> list[int | None]:
    """The steps of model `name` in ascending order ([None] for a model that is not a checkpoints folder)."""
    steps = sorted(m.step for key, m in models.items() if isinstance(m, CheckpointModel) and key == model_key(name, m.step))
    return steps or [None]


def find_checkpoints(folder: Path, who: str) -> list[tuple[int, Path]]:
    """(step, folder) of every `checkpoint-<step>` folder in `folder`, by step; BadInput when there are none."""
    if not folder.is_dir():
        raise BadInput(f"{who} '{folder}': folder does not exist; pass the training run's --output_dir "
                       "(relative paths resolve against the spec file)")
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := CHECKPOINT_FOLDER.match(p.name)))
    if not found:
        raise BadInput(f"{who} '{folder}': no checkpoint-<step> folders in it; pass the training run's --output_dir "
                       "(the scripts write them every --checkpointing_steps)")
    return found


def checkpoint_layout(path: Path, who: str) -> tuple[str, Path]:
    """(kind, what it adds) of one checkpoint folder: a pipeline, a UNet folder or a LoRA file."""
    if (path / "model_index.json").is_file():
        return "pipeline", path
    for sub in UNET_FOLDERS:
        if (path / sub / "config.json").is_file():
            return "unet", path / sub
    if (path / LORA_FILE).is_file():
        return "lora", path / LORA_FILE
    raise BadInput(f"{who} '{path}': holds no model_index.json, unet/config.json or {LORA_FILE}; remove that folder, "
                   "or wait until the training script has finished writing it")


def _step_fingerprint(kind: str, weights: Path, base: ResolvedModel | None) -> str:
    own = fingerprint_folder(weights) if weights.is_dir() else file_sha256(weights)
    if base is None:
        return own
    return hashlib.sha256(f"{kind}\0{base.fingerprint}\0{weights.name}\0{own}".encode()).hexdigest()[:32]


def _needs_peft(folder: Path, who: str) -> None:
    try:
        import peft  # noqa: F401
    except ImportError:
        raise BadInput(f"{who} '{folder}': LoRA checkpoints load through peft, which is not installed; pip install peft") from None


def resolve_checkpoints(spec, index: int) -> dict[str, CheckpointModel]:
    """Every step of the spec's model `index` (a `checkpoints:` folder), keyed by `model_key`; checks the
    layout of each and the base the UNet and LoRA steps need, before anything is written."""
    model = spec.models[index]
    who = f"models[{model.name}].checkpoints"
    folder = Path(spec.resolve_path(model.checkpoints))
    layouts = {step: (path, *checkpoint_layout(path, who)) for step, path in find_checkpoints(folder, who)}
    partial = next(((step, kind) for step, (_, kind, _) in layouts.items() if kind != "pipeline"), None)
    base = None
    if partial is not None:
        if model.base is None:
            what = "a UNet" if partial[1] == "unet" else "LoRA weights"
            raise BadInput(f"{who} '{folder}': checkpoint-{partial[0]} holds {what}, not a pipeline; add base: <the pipeline "
                           "it was trained from> (the script's --pretrained_model_name_or_path) to the model")
        base = resolve_model(spec.resolve_path(model.base), model.revision, who=f"models[{model.name}].base", base_dir=spec.base_dir)
    if any(kind == "lora" for _, kind, _ in layouts.values()):
        _needs_peft(folder, who)
    out = {}
    for step, (path, kind, weights) in layouts.items():
        local = str(path.resolve()) if kind == "pipeline" else base.local_dir
        out[model_key(model.name, step)] = CheckpointModel(
            str(path), local, _step_fingerprint(kind, weights, None if kind == "pipeline" else base),
            model.revision if kind != "pipeline" else None, step, kind, str(weights.resolve()), str(folder))
    return out


def _unet_class(base_dir: str):
    import diffusers

    index = json.loads((Path(base_dir) / "model_index.json").read_text())
    return getattr(diffusers, index.get("unet", [None, "UNet2DConditionModel"])[1])


def _assemble(model: CheckpointModel, pipeline: str, scheduler: str | None, dtype: str, device: str):
    import diffusers
    import torch

    if model.kind == "pipeline":
        return load_pipeline(ResolvedModel(model.ref, model.local_dir, model.fingerprint), pipeline, scheduler, dtype, device)
    if model.kind == "lora":
        pipe = load_pipeline(ResolvedModel(model.ref, model.local_dir, model.fingerprint), pipeline, scheduler, dtype, device)
        pipe.load_lora_weights(str(Path(model.weights).parent), weight_name=Path(model.weights).name)
        return pipe
    quiet_libraries()
    unet = _unet_class(model.local_dir).from_pretrained(model.weights, torch_dtype=getattr(torch, dtype))
    pipe = getattr(diffusers, pipeline).from_pretrained(model.local_dir, unet=unet, torch_dtype=getattr(torch, dtype))
    if scheduler:
        pipe.scheduler = scheduler_class(scheduler).from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def load_checkpoint(model: CheckpointModel, pipeline: str, scheduler: str | None, dtype: str, device: str):
    """The pipeline of one step; a step that fails to load is one line naming its folder (earlier steps stay stored)."""
    try:
        return _assemble(model, pipeline, scheduler, dtype, device)
    except BadInput:
        raise
    except Exception as exc:  # a truncated or foreign weight file raises many types (OSError, safetensors, peft, shapes)
        reason = (str(exc).strip().splitlines() or [""])[0][:160]
        raise BadInput(f"{model.folder}: checkpoint-{model.step} failed to load ({type(exc).__name__}: {reason}); fix or remove "
                       "that folder and run again (the steps already evaluated stay in the store)") from None
