"""Evaluate from inside a training loop: `from flows.training import evaluate`.

No Prefect server and no flow: the pure stages run in this process on the pipeline as it is in memory,
through the same keys and store as `diffeval run` (README 'From inside a training loop').
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from artifacts.store import Store
from tasks.plan.in_memory import prepare_in_memory
from tasks.reporting.trackers import log_metrics, step_metrics
from tasks.spec import EvalSpec, load_spec, spec_from_dict
from tasks.stages.in_process import evaluate_in_process


def _main_process(accelerator) -> bool:
    """Only the main process evaluates: accelerate's flag, else the launcher's RANK (0 when not distributed)."""
    if accelerator is not None:
        return bool(accelerator.is_main_process)
    return os.environ.get("RANK", "0") == "0"


def _spec(spec: str | Path | dict | EvalSpec, folder: Path) -> tuple[EvalSpec, str]:
    """(the validated spec, a YAML file of it for the run folder)."""
    if isinstance(spec, (str, Path)):
        return load_spec(spec), str(Path(spec).resolve())
    data = spec.model_dump(exclude={"base_dir"}) if isinstance(spec, EvalSpec) else dict(spec)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    base = spec.base_dir if isinstance(spec, EvalSpec) else "."
    return spec_from_dict(data, "spec", base), str(path)


def evaluate(pipeline, spec: str | Path | dict | EvalSpec, step: int | None = None, *, model: str | None = None,
             store: str | None = None, accelerator=None, writer=None, prefix: str = "diffeval") -> dict[str, float]:
    """Score an in-memory pipeline on the spec's prompts, seeds and metrics; return {metric: value} (group all).

    step: the training step (the run's `train_step` setting); model: the name it is reported under (default:
    the spec's first model, whose overrides apply); store: as `--store` (default $DIFFEVAL_STORE or ./.diffeval).
    Logged to accelerate's trackers (`accelerator`), a TensorBoard `writer` and an open wandb run. On a process
    other than the main one it does nothing and returns {}.
    """
    if not _main_process(accelerator):
        return {}
    with tempfile.TemporaryDirectory(prefix="diffeval-mem-") as scratch:
        parsed, spec_path = _spec(spec, Path(scratch))
        store_obj = Store(store)
        prepared = prepare_in_memory(parsed, spec_path, pipeline, step, store_obj, model, Path(scratch) / "pipeline")
        summary = evaluate_in_process(pipeline, store_obj, prepared)
    values = step_metrics(summary)
    log_metrics(values, step, prefix, accelerator, writer)
    return values
