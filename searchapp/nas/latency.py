"""Time of one int8 inference on a board, from the architecture alone (no torch).

``board_latency_ms(op_list, target)`` walks the operators ``footprint.ops`` lists (the int8
``.tflite`` as TensorFlow Lite Micro runs it) and adds up, for each, cycles on the board's core:

    cycles = scale[core] x sum over ops of (RELATIVE[kind] x MACs + BYTE_COST x activation
             bytes in and out + OP_OVERHEAD)

- ``RELATIVE``: the cost of one MAC of each kind of operator relative to a k x k conv, the
  same on every core (CMSIS-NN's and ESP-NN's kernels have the same structure: a k x k conv is
  an im2col plus a matrix product, a 1x1 conv the product alone, a depthwise conv reuses no
  input across output channels, a fully connected layer reads each weight once);
- ``BYTE_COST``: ops with no MACs (PAD, RESIZE, MEAN, pooling, ADD) cost per byte they move;
- ``OP_OVERHEAD``: the interpreter's and kernel's fixed cost per op (requantisation set-up,
  calling the kernel);
- ``scale[core]``: cycles per unit on that core, fitted (geometric mean of measured over
  unscaled) to the published measurements of ``CALIBRATION`` marked ``"fit"``; those marked
  ``"held back"`` are not used by the fit and give the error to expect.

The clock of each board is the one it runs at by default (``CLOCK_MHZ``). ``MODELS`` holds the
reference networks of the calibration figures, written out as op lists from their published
architectures. The estimate leaves out flash wait states and caches beyond what the calibration
boards had, the copy of the input in and the output out, and the application's own work.
"""

from __future__ import annotations

import math

from .footprint import Op
from .targets import board

# Cost of one MAC relative to a k x k conv, per kind of op (see the module docstring)
RELATIVE = {"conv": 1.0, "pointwise": 1.0, "depthwise": 3.0, "fc": 1.2}
BYTE_COST = 0.5  # per activation byte in + out of an op without MACs
OP_OVERHEAD = 2000.0  # per op

# Clock the board's core runs at (MHz): nRF52840 64, STM32F746 216 (the Discovery's default
# SystemClock_Config), RP2040 133 (its datasheet's maximum; the Pico SDK's default is 125),
# ESP32-S3 240 (ESP-IDF's default for the S3)
CLOCK_MHZ = {"nano33ble": 64.0, "stm32f746": 216.0, "rp2040": 133.0, "esp32s3": 240.0}
KERNELS = {
    "cortex-m4": "TFLM + CMSIS-NN",
    "cortex-m7": "TFLM + CMSIS-NN",
    "cortex-m0plus": "TFLM + CMSIS-NN (no DSP extension)",
    "xtensa": "TFLM + ESP-NN",
}


def _conv(h, w, cin, cout, kh, kw=None, stride=1):
    """A k x k conv on an h x w input (SAME padding): its Op (scratch marks k > 1)."""
    kw = kw or kh
    oh, ow = -(-h // stride), -(-w // stride)
    scratch = 1 if kh * kw > 1 else 0
    return Op("conv", h * w * cin, oh * ow * cout, scratch, kh * kw * cin * cout, cout), oh, ow


def _dw(h, w, c, k, stride=1):
    oh, ow = -(-h // stride), -(-w // stride)
    return Op("depthwise", h * w * c, oh * ow * c, 0, k * k * c, c), oh, ow


def _mobilenet_v1_025(in_ch: int) -> list[Op]:
    """MobileNetV1 x0.25 on 96 x 96 (TFLM's person detection, MLPerf Tiny's VWW): a 3x3/2 conv
    to 8 channels, 13 depthwise-separable blocks, average pool, a 2-class dense layer."""
    op, h, w = _conv(96, 96, in_ch, 8, 3, stride=2)
    ops = [op]
    c = 8
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5
    for cout, s in blocks + [(256, 2), (256, 1)]:
        op, h, w = _dw(h, w, c, 3, s)
        ops.append(op)
        op, h, w = _conv(h, w, c, cout, 1)
        ops.append(op)
        c = cout
    ops.append(Op("mean", h * w * c, c))
    ops.append(Op("fc", c, 2, 0, c * 2, 2))
    return ops


def _resnet8() -> list[Op]:
    """MLPerf Tiny's ResNet-8 on CIFAR-10 (32 x 32 x 3): a 3x3 conv to 16, three residual
    stacks (16, 32/2, 64/2; 1x1 strided shortcuts), average pool, a 10-class dense layer."""
    op, h, w = _conv(32, 32, 3, 16, 3)
    ops, c = [op], 16
    for cout, s in ((16, 1), (32, 2), (64, 2)):
        a, oh, ow = _conv(h, w, c, cout, 3, stride=s)
        b, _, _ = _conv(oh, ow, cout, cout, 3)
        ops += [a, b]
        if s > 1:
            ops.append(_conv(h, w, c, cout, 1, stride=s)[0])
        ops.append(Op("add", 2 * oh * ow * cout, oh * ow * cout))
        h, w, c = oh, ow, cout
    ops += [Op("mean", h * w * c, c), Op("fc", c, 10, 0, c * 10, 10)]
    return ops


def _ds_cnn() -> list[Op]:
    """MLPerf Tiny's DS-CNN for keyword spotting (49 x 10 MFCC): a 10x4/2 conv to 64, four
    depthwise-separable blocks of 64, average pool, a 12-class dense layer."""
    op, h, w = _conv(49, 10, 1, 64, 10, 4, stride=2)
    ops = [op]
    for _ in range(4):
        op, h, w = _dw(h, w, 64, 3)
        ops.append(op)
        op, h, w = _conv(h, w, 64, 64, 1)
        ops.append(op)
    return ops + [Op("mean", h * w * 64, 64), Op("fc", 64, 12, 0, 64 * 12, 12)]


def _cmsis_cifar() -> list[Op]:
    """The CIFAR-10 network of the CMSIS-NN paper: three 5x5 convs (32, 32, 64), each followed
    by a 3x3/2 max pool, then a 10-class dense layer."""
    ops, h, c = [], 32, 3
    for cout in (32, 32, 64):
        op, h, _ = _conv(h, h, c, cout, 5)
        ops += [op, Op("pool", h * h * cout, (h // 2) ** 2 * cout)]
        h, c = h // 2, cout
    return ops + [Op("fc", h * h * c, 10, 0, h * h * c * 10, 10)]


MODELS = {
    "resnet8": _resnet8(),
    "mobilenet_v1_025_rgb": _mobilenet_v1_025(3),
    "mobilenet_v1_025_gray": _mobilenet_v1_025(1),
    "ds_cnn": _ds_cnn(),
    "cmsis_nn_cifar10": _cmsis_cifar(),
    # single kernels of ESP-NN's benchmark table (no padding: the output is smaller by k - 1)
    "espnn_conv1x1_64": [_conv(10, 10, 64, 64, 1)[0]],
    "espnn_conv3x3_3_64": [_conv(8, 8, 3, 64, 3)[0]._replace(in_bytes=300)],
    "espnn_dw3x3_16": [_dw(16, 16, 16, 3)[0]._replace(in_bytes=18 * 18 * 16)],
}

MLPERF_V05 = "https://github.com/mlcommons/tiny_results_v0.5/tree/main/closed/reference/results"
# Published measurements: core, clock (MHz) of the measuring board, model, ms, use, source
CALIBRATION: list[dict] = [
    {
        "core": "cortex-m4",
        "board": "STM32 Nucleo-L4R5ZI (Cortex-M4F)",
        "mhz": 120.0,
        "model": "resnet8",
        "ms": 704.3,
        "use": "fit",
        "source": "MLPerf Tiny v0.5 reference (TFLM + CMSIS-NN), image classification: 100 "
        f"inferences in 70.425 s, {MLPERF_V05}/Nucleo-L4R5ZI/ic/performance/results.txt",
    },
    {
        "core": "cortex-m4",
        "board": "STM32 Nucleo-L4R5ZI (Cortex-M4F)",
        "mhz": 120.0,
        "model": "mobilenet_v1_025_rgb",
        "ms": 600.5,
        "use": "held back",
        "source": "MLPerf Tiny v0.5 reference, visual wake words: 100 inferences in 60.054 s, "
        f"{MLPERF_V05}/Nucleo-L4R5ZI/vww/performance/results.txt",
    },
    {
        "core": "cortex-m4",
        "board": "STM32 Nucleo-L4R5ZI (Cortex-M4F)",
        "mhz": 120.0,
        "model": "ds_cnn",
        "ms": 181.9,
        "use": "held back",
        "source": "MLPerf Tiny v0.5 reference, keyword spotting: 100 inferences in 18.192 s, "
        f"{MLPERF_V05}/Nucleo-L4R5ZI/kws/performance/results.txt",
    },
    {
        "core": "cortex-m4",
        "board": "STM32 Nucleo-F413ZH (Cortex-M4F)",
        "mhz": 100.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 386.6,
        "use": "fit",
        "source": "TFLM's person_detection with CMSIS-NN on a NUCLEO-F413ZH (Mbed, 100 MHz): "
        "invoke 386,595 us, Samsung/ONE issue 7598 (comment of 2021-09-15), "
        "https://github.com/Samsung/ONE/issues/7598",
    },
    {
        "core": "cortex-m7",
        "board": "STM32 Nucleo-F767ZI (Cortex-M7), arena in external SDRAM",
        "mhz": 216.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 393.8,
        "use": "held back",
        "source": "TFLM's person_detection with CMSIS-NN on an STM32F767ZI at 216 MHz, tensor "
        "arena in 187 MHz SDRAM over the FMC: invoke 393,753 us, Samsung/ONE issue 7598 "
        "(comment of 2021-11-07), https://github.com/Samsung/ONE/issues/7598",
    },
    {
        "core": "cortex-m7",
        "board": "STM32F746 (Cortex-M7)",
        "mhz": 216.0,
        "model": "cmsis_nn_cifar10",
        "ms": 99.1,
        "use": "fit",
        "source": "Lai, Suda, Chandra, 'CMSIS-NN: Efficient Neural Network Kernels for Arm "
        "Cortex-M CPUs', arXiv:1801.06601 (2018), section 5: 10.1 images/s (CMSIS-NN kernels "
        "without TFLM's interpreter), https://arxiv.org/abs/1801.06601",
    },
    {
        "core": "cortex-m0plus",
        "board": "Raspberry Pi Pico (RP2040, Cortex-M0+)",
        "mhz": 125.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 2200.0,
        "use": "fit",
        "source": "E. Upton, tinyML Summit 2021 (March 2021): person detection on the Pico in "
        "2,200 ms with the original single-core TFLM port, as reported in 'Next Pi Silicon "
        "processor to feature machine learning acceleration', HEXUS, 8 March 2021, https://"
        "hocdirect.co.uk/2021/03/08/next-pi-silicon-processor-to-characteristic-machine-studying-"
        "acceleration/",
    },
    {
        "core": "xtensa",
        "board": "ESP32-S3 (Xtensa LX7)",
        "mhz": 240.0,
        "model": "mobilenet_v1_025_gray",
        "ms": 54.0,
        "use": "fit",
        "source": "esp-tflite-micro README, 'Performance Comparison': person detection with "
        "ESP-NN, invoke() 54 ms at 240 MHz, https://github.com/espressif/esp-tflite-micro",
    },
    {
        "core": "xtensa",
        "board": "ESP32-S3 (Xtensa LX7)",
        "mhz": 240.0,
        "model": "espnn_conv1x1_64",
        "ms": 461398 / 240e3,
        "use": "held back",
        "source": "ESP-NN README, kernelwise performance on ESP32-S3: convolution input 10x10, "
        "filter 64x1x1x64, 461,398 ticks, https://github.com/espressif/esp-nn",
    },
    {
        "core": "xtensa",
        "board": "ESP32-S3 (Xtensa LX7)",
        "mhz": 240.0,
        "model": "espnn_conv3x3_3_64",
        "ms": 643689 / 240e3,
        "use": "held back",
        "source": "ESP-NN README: convolution input 10x10, filter 64x3x3x3, 643,689 ticks, "
        "https://github.com/espressif/esp-nn",
    },
    {
        "core": "xtensa",
        "board": "ESP32-S3 (Xtensa LX7)",
        "mhz": 240.0,
        "model": "espnn_dw3x3_16",
        "ms": 191931 / 240e3,
        "use": "held back",
        "source": "ESP-NN README: depthwise conv input 18x18, filter 1x3x3x16, 191,931 ticks, "
        "https://github.com/espressif/esp-nn",
    },
]


def op_macs(op: Op) -> int:
    """Multiply-accumulates of one op: weights x output positions (none for a byte op)."""
    if op.kind not in ("conv", "depthwise", "fc") or not op.channels:
        return 0
    return op.weights * (op.out_bytes // op.channels)


def op_kind(op: Op) -> str:
    """The cost kind of an op: a conv without scratch is 1x1 (pointwise)."""
    if op.kind == "conv" and op.scratch_bytes == 0:
        return "pointwise"
    return op.kind if op.kind in RELATIVE else "bytes"


def units(op_list: list[Op]) -> float:
    """The unscaled cost of running ``op_list`` once."""
    total = 0.0
    for op in op_list:
        kind = op_kind(op)
        if kind == "bytes":
            total += BYTE_COST * (op.in_bytes + op.out_bytes)
        else:
            total += RELATIVE[kind] * op_macs(op)
        total += OP_OVERHEAD
    return total


def _fit() -> dict[str, float]:
    """Cycles per unit of each core: the geometric mean of measured / unscaled over its
    ``"fit"`` calibration figures."""
    logs: dict[str, list[float]] = {}
    for row in CALIBRATION:
        if row["use"] == "fit":
            cycles = row["ms"] * row["mhz"] * 1e3
            logs.setdefault(row["core"], []).append(math.log(cycles / units(MODELS[row["model"]])))
    return {core: math.exp(sum(v) / len(v)) for core, v in logs.items()}


SCALE = _fit()

# The error to expect on each core (percent), quoted beside every estimate. Cortex-M4: two
# boards (ResNet-8 on an L4R5ZI, person detection on an F413ZH) fitted within 24%, the
# held-back MLPerf figures within 31%. Cortex-M7 and M0+: one figure each, nothing comparable
# held back (the M7's is CMSIS-NN without TFLM's interpreter). ESP32-S3: ESP-NN's held-back
# kernels are within 31%, but a 3x3 conv on 3 channels (ESP-NN's slow path) is 74% under.
EXPECTED_ERROR_PCT = {"cortex-m4": 35, "cortex-m7": 40, "cortex-m0plus": 40, "xtensa": 40}


def estimate_ms(op_list: list[Op], core: str, mhz: float) -> float:
    """Milliseconds of one inference of ``op_list`` on ``core`` at ``mhz``."""
    return SCALE[core] * units(op_list) / (mhz * 1e3)


def board_latency_ms(op_list: list[Op], target: str) -> float | None:
    """The estimated time of one inference on the board ``target`` (ms, two decimals); None
    for "none", "custom" or an unknown target."""
    b = board(target)
    if b is None or b.name not in CLOCK_MHZ:
        return None
    return round(estimate_ms(op_list, b.family, CLOCK_MHZ[b.name]), 2)


def calibration_errors() -> list[dict]:
    """Each calibration figure with the model's estimate and its error (percent)."""
    out = []
    for row in CALIBRATION:
        est = estimate_ms(MODELS[row["model"]], row["core"], row["mhz"])
        out.append({**row, "estimate_ms": est, "error_pct": 100 * (est - row["ms"]) / row["ms"]})
    return out


def note(target: str) -> str:
    """The sentence shown beside an estimate on ``target``."""
    b = board(target)
    if b is None:
        return ""
    return (
        f"estimate ±{EXPECTED_ERROR_PCT[b.family]}%: {KERNELS[b.family]} on the {b.mcu} at "
        f"{CLOCK_MHZ[b.name]:g} MHz, from the op list, calibrated on published measurements"
    )
