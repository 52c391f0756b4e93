"""A step's metrics to the experiment trackers a training script already has: accelerate's trackers,
a TensorBoard SummaryWriter, and the active Weights & Biases run (when wandb is installed and one is open)."""

from __future__ import annotations

import sys

from tasks.values.names import GROUP_ALL


def step_metrics(summary: dict) -> dict[str, float]:
    """metric -> value of group `all` (the one variant of an in-process run)."""
    return {r["metric"]: float(r["value"]) for r in summary["metrics"] if r["group"] == GROUP_ALL}


def log_metrics(values: dict[str, float], step: int | None, prefix: str = "diffeval", accelerator=None, writer=None) -> list[str]:
    """Log `values` as `<prefix>/<metric>` at `step` to each tracker present; return the trackers' names."""
    named = {f"{prefix}/{k}": v for k, v in values.items()}
    used = []
    if accelerator is not None and getattr(accelerator, "trackers", None):
        accelerator.log(named, step=step)
        used.append("accelerate")
    if writer is not None:
        for key, value in named.items():
            writer.add_scalar(key, value, global_step=step)
        used.append("tensorboard")
    wandb = sys.modules.get("wandb")  # only a run the script opened: never import (and start) wandb ourselves
    if wandb is not None and getattr(wandb, "run", None) is not None and "accelerate" not in used:
        wandb.log(named, step=step)
        used.append("wandb")
    return used
