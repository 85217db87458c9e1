"""Write a search's outputs: result.json, model.pt (weights + architecture) and model.onnx.

Every file is written to a temporary name and renamed into place, so a crash or a full disk
never leaves a partial file under the final name. model.pt's format is checkpoint.py's; each
model file is checked by running it (artifacts.py).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch

from .artifacts import LATENCY_RUNS, file_entry, int8_loss, measure
from .checkpoint import FORMAT, Classifier, checkpoint, load_checkpoint
from .data import ImageData
from .files import atomic_path
from .int8 import CALIBRATION_IMAGES
from .space import Arch

__all__ = ["FORMAT", "Classifier", "checkpoint", "export_onnx", "load_checkpoint", "write_outputs"]


def export_onnx(model: Classifier, image_size: int, path: str | os.PathLike) -> None:
    """Export with a dynamic batch axis; input 'image' float (N, 3, H, W) in [0, 1]."""
    model = model.eval()
    dummy = torch.rand(2, 3, image_size, image_size)
    kwargs = dict(
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (dummy,), str(path), dynamo=False, **kwargs)
        except TypeError:  # an older torch without the dynamo switch
            torch.onnx.export(model, (dummy,), str(path), **kwargs)


def write_outputs(
    result,
    data: ImageData,
    out_dir: str | os.PathLike,
    int8: bool = False,
    calibration_images: int = CALIBRATION_IMAGES,
    latency_runs: int = LATENCY_RUNS,
    on_event=None,
) -> dict:
    """Write model.pt, model.onnx (and with int8 the int8 files), then result.json.

    Every model file is checked by running it in its own runtime (artifacts.measure); the
    figures go to result.exports, and result.json is written last so that it holds them. An int8
    export that fails leaves the float32 files and an {"error": ...} entry; it never raises.
    Returns the written paths by artifact name: "result", "weights", "onnx", and with int8
    "int8_onnx", "int8_tflite", "c_source", "c_header", "arduino" (those that were written).
    The int8 .tflite is also run in TensorFlow Lite Micro (exports.tflm, tflm.py).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"result": out / "result.json"}
    state = getattr(result, "model_state", result.best_state)  # the final model's, if trained
    if result.best is not None and state is not None:
        arch = Arch.from_dict(result.best["arch"])
        final = getattr(result, "final", None) or {}
        extra = {"test_acc": final.get("test_acc", result.best["test_acc"])}
        extra["final"] = getattr(result, "final_state", None) is not None
        ckpt = checkpoint(arch, state, data, extra)
        paths["weights"] = out / "model.pt"
        with atomic_path(paths["weights"]) as tmp:
            torch.save(ckpt, tmp)
        model, _ = load_checkpoint(paths["weights"])
        paths["onnx"] = out / "model.onnx"
        with atomic_path(paths["onnx"]) as tmp:
            export_onnx(model, data.image_size, tmp)
        config = getattr(result, "config", None) or {}
        if int8 and on_event is not None:
            on_event({"type": "search.phase", "phase": "export"})
        result.exports = _exports(
            paths, model, data, out, int8, calibration_images, latency_runs, config.get("seed") or 0
        )
        if int8:
            _deploy_exports(result.exports, paths, data, out, arch, config)
    with atomic_path(paths["result"]) as tmp:
        tmp.write_text(json.dumps(result.to_json(), indent=1))
    return {k: str(v) for k, v in paths.items()}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    else:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text[:300]


def _exports(paths, model, data, out: Path, int8, calibration_images, latency_runs, seed) -> dict:
    """{artifact name: figures or {"file", "error"}} for the float32 and (with int8) int8 files."""

    def attempt(name: str, file: str, make) -> bool:
        return _attempt(exports, name, file, make)

    exports: dict = {}
    for name, key in (("pt", "weights"), ("onnx", "onnx")):
        attempt(
            name,
            paths[key].name,
            lambda key=key: {"precision": "float32"} | measure(paths[key], data, latency_runs),
        )
    if not int8:
        return exports
    from .int8 import calibration_sample, export_int8_onnx, export_int8_tflite

    calib = calibration_sample(data.x_train, calibration_images, seed)
    float_acc = exports["onnx"].get("test_acc", exports["pt"].get("test_acc"))

    def int8_onnx():
        export_int8_onnx(paths["onnx"], out / "model_int8.onnx", calib)
        paths["int8_onnx"] = out / "model_int8.onnx"
        return {"precision": "int8"} | int8_loss(
            measure(paths["int8_onnx"], data, latency_runs), float_acc
        )

    def int8_tflite():
        io = export_int8_tflite(model, calib, out / "model_int8.tflite")
        paths["int8_tflite"] = out / "model_int8.tflite"
        figures = measure(paths["int8_tflite"], data, latency_runs)
        return {"precision": "int8"} | int8_loss(figures, float_acc) | {"io": io}

    attempt("int8_onnx", "model_int8.onnx", int8_onnx)
    attempt("int8_tflite", "model_int8.tflite", int8_tflite)
    return exports


# The files made from the int8 .tflite, by artifact name
DEPLOY_FILES = {
    "tflm": "model_int8.tflite",
    "c_source": "model_data.cc",
    "c_header": "model_data.h",
    "arduino": "model_arduino.zip",
}


def _attempt(exports: dict, name: str, file: str, make) -> bool:
    try:
        exports[name] = make()
        return True
    except Exception as exc:  # an export never fails the search
        exports[name] = {"file": file, "error": _reason(exc)}
        return False


def _deploy_exports(exports: dict, paths: dict, data, out: Path, arch, config: dict) -> None:
    """After a written int8 .tflite: its TFLM check (exports.tflm), the C array with the arena
    size, and the Arduino library zip. Each failure is an {"file", "error"} entry."""
    from .arduino import write_library
    from .int8 import write_c_array
    from .tflm import classify, export_entry

    if "error" in exports["int8_tflite"]:
        reason = "no .tflite: " + exports["int8_tflite"]["error"]
        for name, file in DEPLOY_FILES.items():
            exports[name] = {"file": file, "error": reason}
        return
    tflite = paths["int8_tflite"]
    lite_acc = exports["int8_tflite"].get("test_acc")
    ok = _attempt(
        exports, "tflm", tflite.name, lambda: export_entry(tflite, data, arch, config, lite_acc)
    )
    tflm = exports["tflm"]
    io = exports["int8_tflite"]["io"]

    def c_array():
        arena = (tflm["arena_bytes"], tflm["margin_bytes"]) if ok else None
        write_c_array(tflite, out / "model_data.cc", out / "model_data.h", data.classes, io, arena)
        paths["c_source"], paths["c_header"] = out / "model_data.cc", out / "model_data.h"
        return file_entry(paths["c_source"], precision="int8", array_of=tflite.name)

    if _attempt(exports, "c_source", "model_data.cc", c_array):
        exports["c_header"] = file_entry(paths["c_header"], precision="int8", array_of=tflite.name)
    else:
        exports["c_header"] = {"file": "model_data.h", "error": exports["c_source"]["error"]}

    def library():
        if not ok:
            raise RuntimeError("no TFLM arena to size the sketch: " + tflm["error"])
        if "error" in exports["c_source"]:
            raise RuntimeError("no C array: " + exports["c_source"]["error"])
        x, y = (data.x_test, data.y_test) if len(data.x_test) else (data.x_train, data.y_train)
        host = int(classify(tflite, tflm["arena_bytes"], x[:1])[0])
        sample = (x[0], data.classes[int(y[0])], data.classes[host])
        target = out / "model_arduino.zip"
        write_library(
            target, (paths["c_source"], paths["c_header"]), tflm, io, sample, data.classes
        )
        paths["arduino"] = target
        return file_entry(target, precision="int8", array_of=tflite.name, format="arduino library")

    _attempt(exports, "arduino", "model_arduino.zip", library)
