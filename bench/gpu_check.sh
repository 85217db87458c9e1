#!/usr/bin/env bash
# One GPU check: train_speed, time_to_accuracy, a whole CLI search and the parallel
# search (--parallel 1 and 8) on cifar10_airplane_automobile.npz, and with --stack the product
# itself (Redis, one GPU worker, the web server, a search through the API). Prints one JSON.
#
#   bench/gpu_check.sh                  # on a CUDA machine with torch, torchvision, numpy, pillow
#   bench/gpu_check.sh --stack          # + the web stack, from the wheels in gpu_carry/wheels
#   bench/gpu_check.sh --smoke [--stack --venv .venv]   # tiny, on the CPU, before a GPU is at hand
#
# Before going to a machine without internet: bench/prepare_gpu_carry.sh (copies the npz into
# the git-ignored gpu_carry/ and downloads the web wheels for CPython 3.12); carry gpu_carry.
# Python: $PYTHON, else .venv/bin/python when it imports torch, else python3.
# Other options: bench/gpu_check.sh --help (they are bench/gpu_check.py's).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]] && .venv/bin/python -c "import torch" 2>/dev/null; then
        PYTHON=.venv/bin/python
    else
        PYTHON=python3
    fi
fi
exec "$PYTHON" bench/gpu_check.py "$@"
