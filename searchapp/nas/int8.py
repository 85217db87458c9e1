"""int8 exports of the final model, for microcontrollers and int8 CPU runtimes.

- ``model_int8.onnx``: ONNX Runtime static quantisation of ``model.onnx`` (QDQ format, int8
  activations, per-channel int8 weights), calibrated on a seeded sample of training images.
  Same interface as ``model.onnx``: input "image" float (N, 3, H, W) in [0, 1], output "logits".
- ``model_int8.tflite``: litert-torch's PT2E quantizer (per-channel symmetric int8 weights,
  int8 activations, MinMax calibration) calibrated on the same images, converted by litert-torch. Input and output
  are int8: the input is (1, H, W, 3), channels last as cameras give them, quantised from pixels
  in [0, 1] with the input scale / zero point (scale 1/255, zero point -128 turns a uint8 pixel
  p into p - 128); the output is the quantised logits. The normalisation is a 1x1 depthwise
  convolution inside the model, so it is quantised with the rest.
- ``model_data.cc`` / ``model_data.h``: that ``.tflite`` as a 16-byte aligned C array for
  TensorFlow Lite Micro / Arduino, with its length, the input / output quantisation, the input
  shape and the class names.

Every file is written under a temporary name and renamed into place (files.atomic_path).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .files import atomic_path

CALIBRATION_IMAGES = 100  # default cap: enough for min/max and histogram observers


@contextlib.contextmanager
def quiet():
    """The converters' advice (Python warnings and WARNING log lines such as ONNX Runtime's
    "consider pre-processing") is not for our users: hide it while they run."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def calibration_sample(x_train: np.ndarray, n: int = CALIBRATION_IMAGES, seed: int = 0):
    """A seeded sample of at most n training images, uint8 (n, H, W, 3)."""
    rng = np.random.default_rng(seed)
    n = max(1, min(n, len(x_train)))
    idx = np.sort(rng.choice(len(x_train), size=n, replace=False))
    return x_train[idx]


def to_nchw_float(x_uint8: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1], the float models' input."""
    return np.ascontiguousarray(x_uint8.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


# ----------------------------------------------------------------------------- ONNX


def export_int8_onnx(float_onnx: str | os.PathLike, path: str | os.PathLike, calib: np.ndarray):
    """Quantise model.onnx statically (QDQ, per-channel int8 weights, int8 activations)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(to_nchw_float(calib[i : i + 1]) for i in range(len(calib)))

        def get_next(self):
            x = next(self.items, None)
            return None if x is None else {"image": x}

    with atomic_path(path) as tmp, quiet():
        quantize_static(
            str(float_onnx),
            str(tmp),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )


# ----------------------------------------------------------------------------- .tflite


class Int8Net(nn.Module):
    """The Classifier for int8 runtimes: NHWC float pixels in [0, 1] -> logits.

    The normalisation (x - mean) / std is a 1x1 depthwise convolution (exactly the same
    arithmetic), so the quantizer quantises it and the model's input tensor becomes int8.
    """

    def __init__(self, classifier):
        super().__init__()
        mean = classifier.mean.view(-1).float()
        std = classifier.std.view(-1).float()
        ch = mean.numel()
        self.norm = nn.Conv2d(ch, ch, 1, groups=ch)
        with torch.no_grad():
            self.norm.weight.copy_((1.0 / std).view(ch, 1, 1, 1))
            self.norm.bias.copy_(-mean / std)
        self.resize_to = classifier.resize_to
        self.net = classifier.net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x.permute(0, 3, 1, 2))
        if self.resize_to:
            x = nn.functional.interpolate(
                x, size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False
            )
        return self.net(x)


def export_int8_tflite(classifier, calib: np.ndarray, path: str | os.PathLike) -> dict:
    """Quantise with litert-torch's PT2E quantizer and convert; returns the I/O quantisation.

    The export traces batch 1 and calibration runs at batch 1 too (a different batch size
    fails the exported graph's shape guard).
    """
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import move_exported_model_to_eval, quantize_pt2e

    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")  # its step log is not ours to print
    model = Int8Net(classifier.cpu()).eval()
    size = calib.shape[1]
    sample = (torch.rand(1, size, size, 3),)
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(_minmax_config())
    with quiet(), torch.no_grad():
        graph = torch.export.export(model, sample).module()
        graph = quantize_pt2e.prepare_pt2e(graph, quantizer)
        x = torch.from_numpy(calib.astype(np.float32) / 255.0)
        for i in range(len(x)):
            graph(x[i : i + 1])
        graph = move_exported_model_to_eval(quantize_pt2e.convert_pt2e(graph, fold_quantize=False))
        edge = litert_torch.convert(
            graph, sample, quant_config=QuantConfig(pt2e_quantizer=quantizer)
        )
    with atomic_path(path) as tmp:
        edge.export(str(tmp))
    return tflite_io(path)


def _minmax_config():
    """litert-torch's static int8 config (per-channel symmetric weights, int8 activations), with
    MinMax activation observers instead of histograms, as the ONNX export calibrates: the
    histogram observer costs about half a second per image and layer set on a small CPU."""
    import dataclasses

    from litert_torch.quantize import pt2e_quantizer
    from torchao.quantization.pt2e.observer import MinMaxObserver

    base = pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True)
    act = dataclasses.replace(
        base.input_activation, observer_or_fake_quant_ctr=MinMaxObserver.with_args(eps=2**-12)
    )
    return dataclasses.replace(base, input_activation=act, output_activation=act)


def tflite_io(path: str | os.PathLike) -> dict:
    """The .tflite's input / output dtype, shape and quantisation (scale, zero point)."""
    interp = tflite_interpreter(path)
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    return {
        "input_dtype": np.dtype(i["dtype"]).name,
        "input_shape": [int(v) for v in i["shape"]],
        "input_scale": float(i["quantization"][0]),
        "input_zero_point": int(i["quantization"][1]),
        "output_dtype": np.dtype(o["dtype"]).name,
        "output_scale": float(o["quantization"][0]),
        "output_zero_point": int(o["quantization"][1]),
    }


def tflite_interpreter(path: str | os.PathLike, threads: int = 1):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=threads)
    interp.allocate_tensors()
    return interp


# ----------------------------------------------------------------------------- C array


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def write_c_array(
    tflite: str | os.PathLike,
    source: str | os.PathLike,
    header: str | os.PathLike,
    classes: list[str],
    io: dict,
    arena: tuple[int, int] | None = None,
) -> None:
    """model_data.cc / model_data.h: the .tflite bytes as an aligned array, for TFLM / Arduino.

    `arena` (TFLM's measured arena, margin) in bytes adds MODEL_TFLM_ARENA_BYTES,
    MODEL_ARENA_MARGIN_BYTES and MODEL_ARENA_BYTES (their sum: the arena to allocate)."""
    raw = Path(tflite).read_bytes()
    arena_defines = ""
    if arena is not None:
        arena_defines = f"""
// The tensor arena: MODEL_TFLM_ARENA_BYTES is the smallest arena in which TensorFlow Lite
// Micro's interpreter allocated and ran this model (host build, reference kernels); the margin
// adds the scratch buffers of CMSIS-NN's optimised kernels (estimated) and 1 KB.
#define MODEL_TFLM_ARENA_BYTES {arena[0]}
#define MODEL_ARENA_MARGIN_BYTES {arena[1]}
#define MODEL_ARENA_BYTES (MODEL_TFLM_ARENA_BYTES + MODEL_ARENA_MARGIN_BYTES)
"""
    guard = re.sub(r"\W", "_", Path(header).name).upper()
    shape = io["input_shape"]
    h = f"""// Generated by Mini-NAS: the int8 model ({Path(tflite).name}) as a C array for
// TensorFlow Lite Micro / Arduino. Input: int8 {"x".join(map(str, shape))} (NHWC), quantised
// as q = round(pixel / 255 / input_scale) + input_zero_point; output: int8 logits.
#ifndef {guard}
#define {guard}

extern const unsigned char g_model_data[];
extern const unsigned int g_model_data_len;

extern const float g_model_input_scale;
extern const int g_model_input_zero_point;
extern const float g_model_output_scale;
extern const int g_model_output_zero_point;
extern const int g_model_input_height;
extern const int g_model_input_width;
extern const int g_model_input_channels;

#define MODEL_NUM_CLASSES {len(classes)}
extern const char* const g_model_class_names[MODEL_NUM_CLASSES];
{arena_defines}
#endif  // {guard}
"""
    rows = []
    for start in range(0, len(raw), 12):
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in raw[start : start + 12]) + ",")
    names = ",\n".join("    " + _c_string(c) for c in classes)
    cc = f"""// Generated by Mini-NAS from {Path(tflite).name} ({len(raw)} bytes). Do not edit.
#include "{Path(header).name}"

// TensorFlow Lite Micro reads the model in place: keep it 16-byte aligned.
alignas(16) const unsigned char g_model_data[] = {{
{chr(10).join(rows)}
}};
const unsigned int g_model_data_len = {len(raw)};

const float g_model_input_scale = {io["input_scale"]!r}f;
const int g_model_input_zero_point = {io["input_zero_point"]};
const float g_model_output_scale = {io["output_scale"]!r}f;
const int g_model_output_zero_point = {io["output_zero_point"]};
const int g_model_input_height = {shape[1]};
const int g_model_input_width = {shape[2]};
const int g_model_input_channels = {shape[3]};

const char* const g_model_class_names[MODEL_NUM_CLASSES] = {{
{names}
}};
"""
    with atomic_path(header) as tmp:
        tmp.write_text(h)
    with atomic_path(source) as tmp:
        tmp.write_text(cc)


def c_array_bytes(source: str | os.PathLike) -> bytes:
    """The bytes of g_model_data in a model_data.cc (to check it against the .tflite)."""
    text = Path(source).read_text()
    body = text.split("g_model_data[] = {", 1)[1].split("};", 1)[0]
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))
