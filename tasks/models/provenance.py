"""What a run ran with: library versions, the device, CUDA and cuDNN, and the lock it was installed from.

Recorded with every run (its summary, the run registry, the report's footer) so two runs' numbers can be
told apart by what produced them. Versions are recorded, never keyed: a generation key or an extractor
fingerprint changes only with what changes pixels or features (DESIGN.md, "Keys").
"""

from __future__ import annotations

import functools
import hashlib
import platform
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Distribution name -> the short name a run record uses.
PACKAGES = {"torch": "torch", "diffusers": "diffusers", "transformers": "transformers", "torchmetrics": "torchmetrics",
            "open_clip_torch": "open_clip", "torch-fidelity": "torch_fidelity", "prefect": "prefect"}
LOCK_NAME = "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def _installed(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_path() -> Path:
    """The lock of the checkout this code runs from (an editable install, as the README installs it)."""
    return Path(__file__).resolve().parents[2] / LOCK_NAME


def lock_facts(path: Path | None = None) -> dict:
    """sha256 of the lock, and the packages recorded here whose installed version is not the lock's pin."""
    path = path or lock_path()
    if not path.is_file():
        return {"lock_sha256": None, "lock_mismatch": []}
    text = path.read_text(encoding="utf-8")
    pins = {_norm(name): pin for name, pin in _PIN.findall(text)}
    mismatch = []
    for dist in PACKAGES:
        installed, pinned = _installed(dist), pins.get(_norm(dist))
        # torch's local tag (+cu130, +cpu) names the build, not another release of the pinned version.
        if pinned is not None and installed is not None and installed.split("+")[0] != pinned.split("+")[0]:
            mismatch.append(f"{dist} {installed} (lock: {pinned})")
    return {"lock_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "lock_mismatch": mismatch}


def device_facts(device: str) -> dict:
    """The device's name, and CUDA / cuDNN as torch was built with them (None on a CPU-only build)."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        name = torch.cuda.get_device_name(torch.device(device))
    elif device == "mps":
        name = f"Apple MPS ({platform.machine()})"
    else:
        name = f"CPU {platform.machine()} ({platform.processor() or platform.system()})"
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"device": name, "cuda": torch.version.cuda, "cudnn": str(cudnn) if cudnn else None}


@functools.cache  # what is installed, the device and the lock do not change while a process runs
def _provenance(device: str) -> dict:
    facts = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    facts.update({short: _installed(dist) for dist, short in PACKAGES.items()})
    facts.update(device_facts(device))
    facts.update(lock_facts())
    return facts


def run_provenance(device: str) -> dict:
    """Everything a run record carries about the software and hardware that produced its numbers."""
    return dict(_provenance(device))


def provenance_line(facts: dict | None) -> str:
    """One line for a report footer or a terminal: versions, device, lock."""
    if not facts:
        return "Ran with: not recorded (a run from before diffeval recorded provenance)."
    libs = " · ".join(f"{k} {facts[k]}" for k in ("python", *PACKAGES.values()) if facts.get(k))
    gpu = f" (CUDA {facts['cuda']}, cuDNN {facts['cudnn']})" if facts.get("cuda") else ""
    lock = facts.get("lock_sha256")
    if lock is None:
        installed = "not installed from requirements.lock"
    elif facts.get("lock_mismatch"):
        installed = f"lock {lock[:12]}, but installed: {', '.join(facts['lock_mismatch'])}"
    else:
        installed = f"lock {lock[:12]} (installed versions match it)"
    return f"Ran with: {libs} · device {facts.get('device')}{gpu} · {installed}"
