"""int8 exports: how long each step takes and how big each file is, on this CPU.

    python bench/int8_export.py [--depth 8] [--width 32] [--size 32] [--classes 10]
        [--calibration 100] [--latency-runs 50] [--json-out F]

Writes model.pt / model.onnx and the int8 files (model_int8.onnx, model_int8.tflite,
model_data.cc/.h) for one Mini-NAS network (all sep 3x3, untrained weights: sizes and times are
the same as trained ones; the accuracies printed are on random data, not meaningful) through
export.write_outputs, as the search job does, in a temporary folder. Prints JSON: seconds of
the whole write_outputs with and without int8 (the difference is the int8 exports with their
checks), each file's bytes and host-CPU latency, and the size ratio int8 .tflite / float32 ONNX
(target: <= 0.3).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_output_options, emit, parse  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--calibration", type=int, default=100)
    p.add_argument("--latency-runs", type=int, default=50)
    add_output_options(p)
    args = parse(p, argv)

    from searchapp.nas.data import ImageData
    from searchapp.nas.export import write_outputs
    from searchapp.nas.model import build_model
    from searchapp.nas.space import Arch

    arch = Arch.initial(args.depth, args.width)
    rng = np.random.default_rng(0)

    def images(n):
        return rng.integers(0, 256, (n, args.size, args.size, 3), dtype=np.uint8)

    data = ImageData(
        images(200),
        rng.integers(0, args.classes, 200),
        images(100),
        rng.integers(0, args.classes, 100),
        [f"class{i}" for i in range(args.classes)],
    )
    state = build_model(arch, 3, args.classes).state_dict()

    class Result:
        best = {"arch": arch.to_dict(), "test_acc": 0.0, "index": 0}
        best_state, final, config, exports = state, None, {"seed": 0}, None

        def to_json(self):
            return {"best": self.best, "exports": self.exports}

    out: dict = {"arch": arch.short, "image_size": args.size, "classes": args.classes}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_outputs(Result(), data, Path(tmp) / "f32", latency_runs=args.latency_runs)
        out["float32_seconds"] = round(time.perf_counter() - t0, 2)
        result = Result()
        t0 = time.perf_counter()
        write_outputs(
            result,
            data,
            Path(tmp) / "int8",
            int8=True,
            calibration_images=args.calibration,
            latency_runs=args.latency_runs,
        )
        out["with_int8_seconds"] = round(time.perf_counter() - t0, 2)
    out["files"] = {
        name: {k: e.get(k) for k in ("file", "bytes", "latency_ms", "error") if k in e}
        for name, e in result.exports.items()
    }
    onnx, tflite = result.exports["onnx"], result.exports.get("int8_tflite", {})
    if "bytes" in tflite:
        out["tflite_over_float_onnx"] = round(tflite["bytes"] / onnx["bytes"], 3)
    return emit(out, args)


if __name__ == "__main__":
    main()
