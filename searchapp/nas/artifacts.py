"""Check every exported file of the final model by running it in its own runtime.

Per artifact: its size, its test accuracy on the test split (computed by running the file:
PyTorch for model.pt, ONNX Runtime for the .onnx files, the LiteRT Interpreter for the .tflite)
and its CPU latency at batch 1: the median of many single-image runs on this host's CPU with
one thread, after a few warm-up runs. The host CPU is named in each entry: the latency is the
host's, not a microcontroller's.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .int8 import tflite_interpreter, to_nchw_float

LATENCY_RUNS = 50  # default: median of this many batch-1 runs
LATENCY_BUDGET_S = 2.0  # ... or of as many as fit in this time, at least 5
WARMUP_RUNS = 3
INT8_LOSS_FLAG_POINTS = 1.0  # an int8 model losing more than this many points is flagged


def host_cpu() -> str:
    """The host CPU's model name, e.g. 'Intel(R) Xeon(R) Platinum 8480+'."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def median_ms(run: Callable[[], object], runs: int, budget_s: float) -> tuple[float, int]:
    """Median wall time of run() in ms over `runs` calls (fewer if over budget, at least 5)."""
    for _ in range(WARMUP_RUNS):
        run()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < runs:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
        if len(times) >= 5 and time.perf_counter() - start > budget_s:
            break
    return statistics.median(times) * 1000.0, len(times)


def _accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    return round(float((predictions == labels).mean() * 100.0), 2) if len(labels) else None


# ----------------------------------------------------------------------------- runtimes


def _torch_runner(path):
    import torch

    from .checkpoint import load_checkpoint

    model, _ = load_checkpoint(path)

    def predict(x_uint8: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = []
            for s in range(0, len(x_uint8), 256):
                out.append(model(torch.from_numpy(to_nchw_float(x_uint8[s : s + 256]))).numpy())
        return np.concatenate(out)

    return predict, f"PyTorch {torch.__version__}"


def _onnx_runner(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def predict(x_uint8: np.ndarray) -> np.ndarray:
        out = []
        for s in range(0, len(x_uint8), 256):
            out.append(session.run(None, {name: to_nchw_float(x_uint8[s : s + 256])})[0])
        return np.concatenate(out)

    return predict, f"ONNX Runtime {ort.__version__}"


def _tflite_runner(path):
    import ai_edge_litert

    interp = tflite_interpreter(path, threads=1)
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    scale, zero = inp["quantization"]
    dtype = inp["dtype"]
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None

    def predict(x_uint8: np.ndarray) -> np.ndarray:
        out = []
        for img in x_uint8:
            x = img[None].astype(np.float32) / 255.0
            if info is not None:
                x = np.clip(np.round(x / scale) + zero, info.min, info.max)
            interp.set_tensor(inp["index"], x.astype(dtype))
            interp.invoke()
            out.append(interp.get_tensor(outp["index"]).astype(np.float32).copy())
        return np.concatenate(out)  # quantised logits: argmax is the same

    version = getattr(ai_edge_litert, "__version__", "")
    return predict, f"LiteRT {version}".strip()


RUNNERS = {".pt": _torch_runner, ".onnx": _onnx_runner, ".tflite": _tflite_runner}


def measure(path: str | os.PathLike, data, runs: int = LATENCY_RUNS, budget_s=LATENCY_BUDGET_S):
    """{"file", "bytes", "test_acc", "latency_ms", ...} of one model file, run in its runtime."""
    import torch

    path = Path(path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        predict, runtime = RUNNERS[path.suffix](path)
        logits = predict(data.x_test)
        acc = _accuracy(logits.argmax(1), np.asarray(data.y_test))
        one = data.x_test[:1] if len(data.x_test) else data.x_train[:1]
        latency, n = median_ms(lambda: predict(one), runs, budget_s)
    finally:
        torch.set_num_threads(threads)
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "test_acc": acc,
        "latency_ms": round(latency, 4),
        "runtime": runtime,
        "latency_on": f"host CPU ({host_cpu()}), 1 thread, batch 1, median of {n} runs",
    }


def file_entry(path: str | os.PathLike, **extra) -> dict:
    """A file that is not run by itself (the C array): its name and size."""
    path = Path(path)
    entry = {"file": path.name, "bytes": path.stat().st_size, "test_acc": None}
    return entry | {"latency_ms": None} | extra


def int8_loss(entry: dict, float_acc: float | None) -> dict:
    """Add "vs_float32" (points, int8 minus float32) and "flag" (a sentence, or None)."""
    acc = entry.get("test_acc")
    if acc is None or float_acc is None:
        return entry | {"vs_float32": None, "flag": None}
    diff = round(acc - float_acc, 2)
    flag = None
    if -diff > INT8_LOSS_FLAG_POINTS:
        flag = f"int8 loses {-diff:.1f} points"
    return entry | {"vs_float32": diff, "flag": flag}
