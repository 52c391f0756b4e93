"""Checks of what the compositional metrics read, made in prepare before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from artifacts.errors import BadInput
from tasks.inputs.geneval_prompts import metadata_for
from tasks.models.resolve import ResolvedModel
from tasks.values.names import VQASCORE
from tasks.values.units import Condition
from tasks.spec import EvalSpec

PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")


def check_vlm_folder(resolved: ResolvedModel, who: str) -> None:
    """A VLM folder must hold its processor (image processor and tokenizer), as AutoProcessor loads it."""
    folder = Path(resolved.local_dir)
    missing = [kind for kind, names in (("image processor", PROCESSOR_FILES), ("tokenizer", TOKENIZER_FILES))
               if not any((folder / name).is_file() for name in names)]
    if missing:
        raise BadInput(f"{who} '{resolved.ref}': folder has no processor (no {' and no '.join(missing)} files); save the model's "
                       "AutoProcessor into it with processor.save_pretrained(folder)")


def check_geneval_prompts(spec: EvalSpec, conditions: Sequence[Condition], metric_models: dict[str, ResolvedModel]) -> None:
    """GenEval: every prompt has its metadata (the shipped set's, or `metrics.geneval.metadata`)."""
    cfg = spec.metrics.geneval
    metadata_for([c.text for c in conditions], spec.resolve_path(cfg.metadata) if cfg.metadata else None)


def check_vlm(spec: EvalSpec, conditions: Sequence[Condition], metric_models: dict[str, ResolvedModel]) -> None:
    """VQAScore: the model folder holds its processor."""
    check_vlm_folder(metric_models[VQASCORE], f"metrics.{VQASCORE}.model")
