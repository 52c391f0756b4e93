#!/usr/bin/env bash
# GPU check: install the wheels carried in .whl/ (see bench/README.md), then run bench/gpu_check.py; output also goes to $OUT/gpu_check.txt when OUT is set.
set -o pipefail; cd "$(dirname "$0")/.." && { ! compgen -G '.whl/*.whl' >/dev/null || { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"; }; } && PYTHONUNBUFFERED=1 python3 bench/gpu_check.py "$@" 2>&1 | tee ${OUT:+"$OUT/gpu_check.txt"}
