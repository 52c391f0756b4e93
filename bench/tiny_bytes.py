"""The tiny models are the same bytes on any torch: build them under two interpreters, compare every file.

Each interpreter is a venv with other releases (torch, and diffusers / transformers too); both build every
tiny model and metric stand-in into their own folder, then every file's sha256 is compared (dot files, the
build marker that records versions, are left out: the model fingerprint leaves them out too). For example,
a second venv with the lock's other packages and older torch, diffusers and transformers:

    python3 -m venv /tmp/other && /tmp/other/bin/pip install -q --require-hashes -r requirements.lock
    /tmp/other/bin/pip install -q --no-deps torch==2.13.0 torchvision==0.28.0 diffusers==0.41.0 transformers==5.20.0 \
        nvidia-cudnn-cu13==9.20.0.48 nvidia-nccl-cu13==2.29.7 triton==3.7.1
    .venv/bin/python bench/tiny_bytes.py --other-python /tmp/other/bin/python
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = """import sys, torch
from tasks.demo.tiny import build_tiny_models
from tasks.demo.tiny_metric_models import build_metric_models
build_tiny_models(sys.argv[1]); build_metric_models(sys.argv[1])
print(torch.__version__)"""


def build(python: str, out: Path) -> str:
    """Build every tiny model with `python` into `out`; return its torch version."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([python, "-c", BUILD, str(out)], cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{python}: the build failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not any(s.startswith(".") for s in p.relative_to(root).parts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other-python", required=True, help="python of a venv with another torch")
    parser.add_argument("--python", default=sys.executable, help="the first interpreter (default: this one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        versions, hashes = [], []
        for i, python in enumerate((args.python, args.other_python)):
            versions.append(build(python, Path(scratch) / str(i)))
            hashes.append(file_hashes(Path(scratch) / str(i)))
    a, b = hashes
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    same = len(a.keys() & b.keys()) - len(set(differ) & a.keys() & b.keys())
    print(f"torch {versions[0]} vs torch {versions[1]}: {len(a)} vs {len(b)} files, {same} identical, {len(differ)} differ")
    for name in differ:
        print(f"  differs: {name}  {a.get(name, '-')[:16]}  {b.get(name, '-')[:16]}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
