"""TensorFlow Lite Micro as the judge of the int8 export: its real arena, its accuracy (no torch).

``check(tflite, data)`` loads ``model_int8.tflite`` in TFLM's interpreter for the host (the
``tflite-micro`` package: the same allocator, memory planner and reference kernels as on a
board), finds the smallest tensor arena in which it allocates and runs (a bisection on
``arena_size`` to one byte: every size at or above it works, every size below it fails), and
scores the whole test split through that interpreter. The figures go to ``result.json`` as
``exports.tflm`` (docs/deploy-mcu.md).

TFLM reports an allocation failure on the process's stderr (C++ ``MicroPrintf``); while it
searches, stderr goes to a temporary file, and the last lines of a failure become the reason.
Below the model's persistent allocations TFLM does not fail cleanly: a kernel's ``Init`` gets no
op data and the interpreter dereferences it (a segmentation fault). So every trial allocation of
the search runs in a forked child process, and a child that dies counts as "too small".
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .stats import wilson

MAX_ARENA = 1 << 28  # 256 MiB: far above any model of this search space
PROBE_TIMEOUT_S = 120  # one trial allocation and run; a child stuck this long is killed


class TFLMError(RuntimeError):
    """The interpreter refused the model (the reason is TFLM's own last message)."""


@contextlib.contextmanager
def _captured_stderr():
    """Send file descriptor 2 to a temporary file; yields a list that gets its text."""
    text: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            yield text
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            f.seek(0)
            text.append(f.read().decode("utf-8", "replace"))


def runtime_name() -> str:
    import tflite_micro

    return f"TensorFlow Lite Micro {tflite_micro.__version__}"


def _interpreter(model: bytes, arena: int):
    """An interpreter with its tensors allocated in `arena` bytes, having run once; None when
    TFLM cannot allocate (or run) the model in that arena."""
    from tflite_micro.python.tflite_micro import runtime

    try:
        interp = runtime.Interpreter.from_bytes(model, arena_size=arena)
        inp = interp.get_input_details(0)
        interp.set_input(np.zeros(inp["shape"], dtype=inp["dtype"]), 0)
        interp.invoke()
    except (RuntimeError, ValueError):
        return None
    return interp


def _works(model: bytes, arena: int) -> bool:
    """Whether TFLM allocates and runs `model` in `arena` bytes, tried in a forked child (a
    crash there is a failure); in this process where there is no fork."""
    if not hasattr(os, "fork"):
        return _interpreter(model, arena) is not None
    from tflite_micro.python.tflite_micro import runtime  # noqa: F401 - imported before the fork

    sys.stdout.flush()
    with warnings.catch_warnings():  # the child touches no thread-owned state: TFLM and numpy
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: only TFLM runs here, then it leaves without any cleanup
        code = 1
        faulthandler.disable()  # its crash is an answer (too small), not a traceback to print
        try:
            code = 0 if _interpreter(model, arena) is not None else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TFLMError(f"TFLM did not answer in {PROBE_TIMEOUT_S} s for a {arena}-byte arena")
        time.sleep(0.002)


def smallest_arena(model: bytes) -> int:
    """The smallest arena_size (bytes) in which TFLM allocates and runs `model`."""
    lo, hi = 0, 4096
    with _captured_stderr() as log:
        ok = _works(model, hi)
        while not ok and hi < MAX_ARENA:
            lo, hi = hi, hi * 2
            ok = _works(model, hi)
        while ok and hi - lo > 1:  # invariant: lo fails (or is 0), hi works
            mid = (lo + hi) // 2
            if _works(model, mid):
                hi = mid
            else:
                lo = mid
    if not ok:
        lines = [ln for ln in "".join(log).splitlines() if ln.strip()]
        raise TFLMError(lines[-1] if lines else "TFLM cannot allocate the model")
    return hi


def model_ops(model: bytes) -> list[str]:
    """The builtin op names the model uses, in order of first use (e.g. "CONV_2D")."""
    from tflite_micro.python.tflite_micro import runtime

    schema = runtime.schema_fb
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    root = schema.Model.GetRootAsModel(bytearray(model), 0)
    graph = root.Subgraphs(0)
    seen: list[str] = []
    for i in range(graph.OperatorsLength()):
        code = root.OperatorCodes(graph.Operators(i).OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        if name not in seen:
            seen.append(name)
    return seen


def predict(interp, x_uint8: np.ndarray) -> np.ndarray:
    """Class indices of uint8 (N, H, W, 3) images, one invoke each; the input is quantised as
    the LiteRT check quantises it (pixel / 255 / scale + zero point)."""
    inp = interp.get_input_details(0)
    q = inp["quantization_parameters"]
    scale, zero = float(q["scales"][0]), int(q["zero_points"][0])
    info = np.iinfo(inp["dtype"])
    out = np.empty(len(x_uint8), dtype=np.int64)
    for i, img in enumerate(x_uint8):
        x = np.round(img[None].astype(np.float32) / 255.0 / scale) + zero
        interp.set_input(np.clip(x, info.min, info.max).astype(inp["dtype"]), 0)
        interp.invoke()
        out[i] = int(np.argmax(interp.get_output(0)))
    return out


def check(tflite: str | os.PathLike, data, ram_limit_kb: float | None = None, by: str = "") -> dict:
    """exports.tflm without "vs_tflite": {"file", "arena_bytes", "arena_search", "test_acc",
    "test_ci95", "runtime", "ops", "fits"}. `ram_limit_kb` (KB) is the search's RAM budget and `by` what
    set it ("target nano33ble", "max_ram_kb"); without one, "fits" is None."""
    model = Path(tflite).read_bytes()
    arena = smallest_arena(model)
    with _captured_stderr():
        interp = _interpreter(model, arena)
    if interp is None:  # allocation is deterministic: the arena that just worked works again
        raise TFLMError(f"TFLM ran the model in {arena} bytes once, then failed to")
    labels = np.asarray(data.y_test)
    acc = ci95 = None
    if len(labels):
        correct = int((predict(interp, data.x_test) == labels).sum())
        acc, ci95 = round(100.0 * correct / len(labels), 2), wilson(correct, len(labels))
    return {
        "file": Path(tflite).name,
        "arena_bytes": arena,
        "arena_search": "bisection on arena_size to 1 byte",
        "test_acc": acc,
        "test_ci95": ci95,
        "runtime": runtime_name(),
        "ops": model_ops(model),
        "fits": fits(arena, ram_limit_kb, by),
    }


def fits(arena_bytes: int, ram_limit_kb: float | None, by: str = "") -> dict | None:
    """{"ok", "arena_kb", "budget_kb", "by"}: the real arena against the RAM budget (None when
    the search has no RAM limit)."""
    if ram_limit_kb is None:
        return None
    arena_kb = round(arena_bytes / 1024, 1)
    return {
        "ok": arena_bytes <= ram_limit_kb * 1024,
        "arena_kb": arena_kb,
        "budget_kb": float(ram_limit_kb),
        "by": by,
    }


MARGIN_SLACK_BYTES = 1024  # the sketch's arena: measured + CMSIS-NN's scratch + this


def ram_limit(config: dict | None) -> tuple[float | None, str]:
    """The search's RAM budget in KB (None: no limit) and what set it ("target nano33ble",
    "max_ram_kb"), from its settings (SearchConfig.to_dict())."""
    from types import SimpleNamespace

    from .budget import Budget

    budget = Budget.from_config(SimpleNamespace(**(config or {})))
    source = budget.sources.get("ram_kb", "")
    return budget.limits.get("ram_kb"), f"target {budget.target}" if source == "target" else source


def export_entry(tflite, data, arch, config: dict | None, lite_acc: float | None) -> dict:
    """exports.tflm: check() plus "vs_tflite" (points against the LiteRT int8 score),
    "estimate_bytes" (arena.py's figure for `arch`) and "margin_bytes" (what the Arduino
    sketch adds to the measured arena: CMSIS-NN's scratch buffers, estimated, and 1 KB)."""
    from .arena import align, arena_bytes
    from .footprint import ops

    limit, by = ram_limit(config)
    entry = {"precision": "int8"} | check(tflite, data, limit, by)
    acc = entry["test_acc"]
    entry["vs_tflite"] = None if acc is None or lite_acc is None else round(acc - lite_acc, 2)
    op_list = ops(arch, int(data.x_train.shape[-1]), data.image_size, len(data.classes))
    entry["estimate_bytes"] = arena_bytes(op_list)
    extra = max(0, arena_bytes(op_list, "cmsis-nn") - entry["estimate_bytes"])
    entry["margin_bytes"] = align(extra) + MARGIN_SLACK_BYTES
    return entry


def classify(tflite: str | os.PathLike, arena: int, x_uint8: np.ndarray) -> np.ndarray:
    """Class indices of a few images through TFLM with `arena` bytes."""
    with _captured_stderr():
        interp = _interpreter(Path(tflite).read_bytes(), arena)
    if interp is None:
        raise TFLMError(f"TFLM cannot run the model in {arena} bytes")
    return predict(interp, x_uint8)
