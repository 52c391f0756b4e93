"""Resolving, fingerprinting and loading models: hub ids and local folders take one path."""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from artifacts.errors import BadInput
from artifacts.keys import file_sha256
from tasks.inputs.hub import looks_like_hub_id

log = logging.getLogger("diffeval")


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference made concrete: a local folder and a fingerprint of what is in it."""

    ref: str
    local_dir: str
    fingerprint: str
    revision: str | None = None


# The file that makes a folder a model of its kind; an open_clip folder may instead hold only a .pt
# checkpoint of a built-in architecture (as the HPS v2 release does).
FOLDER_MARKERS = {"diffusers": "model_index.json", "open_clip": "open_clip_config.json"}


def fingerprint_folder(folder: str | Path) -> str:
    """sha256 over every file's relative path and content (weights hashed once per process)."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)):
        rel = path.relative_to(root).as_posix()
        digest.update(rel.encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return digest.hexdigest()[:32]


def _hub_reachable(ref: str, revision: str | None, neither: str) -> bool:
    """Ask the hub about `ref` once: False when it cannot be reached; a missing repo or revision is bad input."""
    from tasks.inputs.hub import CHECK_TIMEOUT_S, hub_reachable

    if not hub_reachable():
        return False
    from huggingface_hub import HfApi

    try:
        HfApi().model_info(ref, revision=revision, timeout=CHECK_TIMEOUT_S)
    except Exception as exc:  # httpx / requests connection errors and the hub's own errors
        name = type(exc).__name__
        if "NotFound" in name or "GatedRepo" in name:
            raise BadInput(f"{neither} nor a model on the hub ({name}); fix the path, or the hub id and revision "
                           "(log in for a gated model)") from None
        return False
    return True


def _hub_snapshot(ref: str, revision: str | None, kind: str, neither: str) -> str:
    """The local snapshot folder of a hub model: downloaded when online, from the HF cache when not."""
    offline = not _hub_reachable(ref, revision, neither)
    try:
        if kind == "diffusers" and not offline:
            from diffusers import DiffusionPipeline  # why only online: it picks which weight files to fetch

            return str(DiffusionPipeline.download(ref, revision=revision))
        from huggingface_hub import snapshot_download  # offline: the cached snapshot, without diffusers' ~10 s import

        patterns = None if kind == "diffusers" else ["*.json", "*.txt", "*.safetensors", "*.model"] + (
            ["*.pt"] if kind == "open_clip" else [])  # HPS v2 ships open_clip .pt checkpoints
        return snapshot_download(ref, revision=revision, allow_patterns=patterns, local_files_only=offline)
    except Exception as exc:  # the hub client raises many types for "offline" / "not found"
        if offline:
            raise BadInput(f"{neither} nor a hub id in the local cache (offline); fix the path or run online "
                           "once (the model is then cached)") from None
        raise BadInput(f"{neither} nor a hub model that could be downloaded ({type(exc).__name__}); fix the path "
                       "or the hub id, or retry") from None


def resolve_model(ref: str, revision: str | None = None, kind: str = "diffusers", who: str = "model",
                  base_dir: str | Path | None = None) -> ResolvedModel:
    """Find the folder behind `ref` (local folder, or hub id via the HF cache/download) and fingerprint it.

    base_dir: the spec file's folder, against which a relative folder was looked for (named in errors).
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        marker = FOLDER_MARKERS.get(kind, "config.json")
        if not (path / marker).is_file() and not (kind == "open_clip" and any(path.glob("*.pt"))):
            how = "open_clip's local-dir layout, or holding a .pt checkpoint" if kind == "open_clip" else "saved with save_pretrained"
            raise BadInput(f"{who} '{ref}': folder has no {marker}; pass a {kind} model folder {how}")
        return ResolvedModel(ref, str(path.resolve()), fingerprint_folder(path), revision)
    if path.exists() or not looks_like_hub_id(ref):
        raise BadInput(f"{who} '{ref}': folder does not exist; fix the path (relative paths resolve against the spec file) or give a hub id")
    # why both: `org/name` is a typo'd local folder as often as a hub id, and only the user knows which
    where = f"relative to the spec: {Path(base_dir).resolve() / ref}" if base_dir is not None else f"{path.resolve()}"
    local = _hub_snapshot(ref, revision, kind, f"{who}: {ref} is neither a folder (no such folder {where})")
    # A hub snapshot folder is named by its commit; its files are content-addressed blobs.
    return ResolvedModel(ref, local, f"hub:{ref}@{Path(local).name}", revision)


def scheduler_class(name: str):
    """The diffusers scheduler class called `name`, or a BadInput listing close names."""
    import diffusers
    from diffusers import SchedulerMixin

    cls = getattr(diffusers, name, None)
    if isinstance(cls, type) and issubclass(cls, SchedulerMixin):
        return cls
    known = [n for n in dir(diffusers) if n.endswith("Scheduler") or n.endswith("SchedulerMultistep")]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "use a diffusers scheduler class name such as DPMSolverMultistepScheduler"
    raise BadInput(f"scheduler '{name}': unknown; {hint}")


def scheduler_config(local_dir: str, swap_to: str | None) -> dict:
    """The scheduler config a pipeline will run with (after an optional swap), without loading weights."""

    config_path = Path(local_dir) / "scheduler" / "scheduler_config.json"
    base = json.loads(config_path.read_text()) if config_path.is_file() else {}
    name = swap_to or base.get("_class_name")
    if not name:
        return {}
    cls = scheduler_class(name)
    scheduler = cls.from_config({k: v for k, v in base.items() if k != "_class_name"})
    config = dict(scheduler.config)
    config["_class_name"] = cls.__name__
    config.pop("_diffusers_version", None)
    config.pop("_use_default_values", None)
    return json.loads(json.dumps(config, default=str))


def pipeline_class_name(local_dir: str, override: str | None = None) -> str:
    """The pipeline class a folder declares (model_index.json), unless overridden."""
    if override:
        return override
    index = Path(local_dir) / "model_index.json"
    try:
        return json.loads(index.read_text())["_class_name"]
    except (OSError, KeyError, json.JSONDecodeError):
        raise BadInput(f"model '{local_dir}': unreadable model_index.json; pass a diffusers pipeline folder") from None


def pipeline_call_parameters(pipeline: str) -> list[str]:
    """The parameter names of a diffusers pipeline class's __call__ (imports diffusers)."""
    import inspect

    import diffusers

    cls = getattr(diffusers, pipeline, None)
    if cls is None:
        raise BadInput(f"pipeline '{pipeline}': not in the installed diffusers {diffusers.__version__}; "
                       "install a diffusers release that has it or pick another pipeline class")
    return list(inspect.signature(cls.__call__).parameters)


def check_pipeline(pipeline: str, task: str, params: list[str]) -> None:
    """The pipeline fits the task (image= for edits, class_labels= for classes), by its __call__ parameters."""
    from tasks.generation.pix2pix_zero import PIPELINE as PIX2PIX_ZERO

    if task == "image-to-image" and "image" not in params and pipeline != PIX2PIX_ZERO:
        raise BadInput(f"pipeline '{pipeline}': takes no image= argument; task image-to-image needs an image-conditioned "
                       "pipeline (InstructPix2Pix, img2img, Pix2PixZero)")
    if task == "class-conditional" and "class_labels" not in params:
        raise BadInput(f"pipeline '{pipeline}': takes no class_labels= argument; task class-conditional needs a pipeline such as DiTPipeline")


def pick_device(device: str) -> str:
    """auto → cuda, else mps, else cpu."""
    import torch

    if device != "auto":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BadInput(f"generation.device '{device}': CUDA is not available here; use device: auto or cpu")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def effective_dtype(dtype: str, device: str, who: str | None = None) -> str:
    """float16 on a CPU runs slowly or not at all: float32 is used there (recorded in keys).

    who: the model it is for (e.g. "spec-name: models[a]"); given, the substitution is logged once.
    """
    if device == "cpu" and dtype == "float16":
        if who is not None:
            notice_once(f"{who}: dtype float16 on cpu: float32 is used instead (float16 is slow or unsupported "
                        "on a CPU); set generation.dtype: float32 to silence this notice")
        return "float32"
    return dtype


@functools.cache
def notice_once(message: str) -> None:
    """A warning logged once per process: a run checks its spec more than once (CLI, then flow; sweep cells)."""
    log.warning(message)


def quiet_libraries() -> None:
    """Our progress bars and one-line errors replace the libraries' per-load bars and advice."""
    import warnings

    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    # diffusers >= 0.36 renamed torch_dtype to dtype; older releases only know torch_dtype.
    warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)


def load_pipeline(model: ResolvedModel, pipeline: str, scheduler: str | None, dtype: str, device: str):
    """DiffusionPipeline.from_pretrained on the resolved folder, scheduler swapped, moved to device."""
    import diffusers
    import torch

    if hasattr(model, "step"):  # one step of a checkpoints: folder (tasks/models/checkpoints.py)
        from tasks.models.checkpoints import load_checkpoint

        return load_checkpoint(model, pipeline, scheduler, dtype, device)
    quiet_libraries()
    cls = getattr(diffusers, pipeline, None)
    if cls is None:
        raise BadInput(f"pipeline '{pipeline}': not in the installed diffusers {diffusers.__version__}; upgrade diffusers or pick another pipeline class")
    from tasks.generation import pix2pix_zero

    extra = pix2pix_zero.load_kwargs(model.local_dir) if pipeline == pix2pix_zero.PIPELINE else {}
    pipe = cls.from_pretrained(model.local_dir, torch_dtype=getattr(torch, dtype), **extra)
    if scheduler:
        pipe.scheduler = scheduler_class(scheduler).from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def library_versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers

    return {"torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__, "python": os.sys.version.split()[0]}
