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
  unscaled) to the published measurements of ``CALIBRATION`` (``latency_refs``) marked
  ``"fit"``; those marked ``"held back"`` are not used by the fit and give the error to expect.

The clock of each board is the one it runs at by default (``CLOCK_MHZ``). ``MODELS`` holds the
reference networks of the calibration figures, written out as op lists from their published
architectures. The estimate leaves out flash wait states and caches beyond what the calibration
boards had, the copy of the input in and the output out, and the application's own work.
"""

from __future__ import annotations

import math

from .footprint import Op
from .latency_refs import CALIBRATION
from .targets import board

# Cost of one MAC relative to a k x k conv, per kind of op (see the module docstring)
RELATIVE = {"conv": 1.0, "pointwise": 1.0, "depthwise": 3.0, "fc": 1.2}
BYTE_COST = 0.5  # per activation byte in + out of an op without MACs
OP_OVERHEAD = 2000.0  # per op

# Clock the board's core runs at by default (MHz): nRF52840 64, STM32F746 216 (the Discovery's
# default SystemClock_Config), RP2040 125 (the Pico SDK's default; the datasheet allows 133),
# ESP32-S3 240 (ESP-IDF's default for the S3)
CLOCK_MHZ = {"nano33ble": 64.0, "stm32f746": 216.0, "rp2040": 125.0, "esp32s3": 240.0}
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


def _divisible8(v: float) -> int:
    """Keras's ``_make_divisible(v, 8)``: the nearest multiple of 8, at least 8, and never
    more than 10% under ``v``."""
    n = max(8, int(v + 4) // 8 * 8)
    return n + 8 if n < 0.9 * v else n


def _mobilenet_v2(alpha: float, res: int, classes: int) -> list[Op]:
    """MobileNetV2 (Sandler et al. 2018) as Keras's ``MobileNetV2(alpha<=1)`` builds it: a 3x3/2
    conv, 17 inverted residual blocks (1x1 expand, a PAD before each stride-2 3x3 depthwise,
    1x1 project, an ADD where the shape is kept), a 1x1 conv to 1280, average pool, dense."""
    c = _divisible8(32 * alpha)
    op, h, w = _conv(res, res, 3, c, 3, stride=2)
    ops, first = [op], True
    blocks = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)]
    for t, f, n, s in blocks + [(6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            out, x, stride = _divisible8(int(f * alpha)), c * t, s if i == 0 else 1
            if not first:
                ops.append(_conv(h, w, c, x, 1)[0])
            if stride == 2:  # Keras pads (0, 1) on an even side, (1, 1) on an odd one
                ops.append(Op("pad", h * w * x, (h + 1 + h % 2) * (w + 1 + w % 2) * x))
            op, oh, ow = _dw(h, w, x, 3, stride)
            ops += [op, _conv(oh, ow, x, out, 1)[0]]
            if stride == 1 and c == out:
                ops.append(Op("add", 2 * oh * ow * out, oh * ow * out))
            h, w, c, first = oh, ow, out, False
    ops.append(_conv(h, w, c, 1280, 1)[0])
    return ops + [
        Op("mean", h * w * 1280, 1280),
        Op("fc", 1280, classes, 0, 1280 * classes, classes),
    ]


def _cmsis_cifar() -> list[Op]:
    """The CIFAR-10 network of the CMSIS-NN paper: three 5x5 convs (32, 32, 64), each followed
    by a 3x3/2 max pool, then a 10-class dense layer."""
    ops, h, c = [], 32, 3
    for cout in (32, 32, 64):
        op, h, _ = _conv(h, h, c, cout, 5)
        ops += [op, Op("pool", h * h * cout, (h // 2) ** 2 * cout)]
        h, c = h // 2, cout
    return ops + [Op("fc", h * h * c, 10, 0, h * h * c * 10, 10)]


_GRAY = _mobilenet_v1_025(1)
MODELS = {
    "resnet8": _resnet8(),
    "mobilenet_v1_025_rgb": _mobilenet_v1_025(3),
    "mobilenet_v1_025_gray": _GRAY,
    # the 13 depthwise and the 13 1x1 convs of its blocks (per-op times of one measured run)
    "person_detection_dw": [op for op in _GRAY if op.kind == "depthwise"],
    "person_detection_1x1": [op for op in _GRAY if op.kind == "conv" and not op.scratch_bytes],
    "ds_cnn": _ds_cnn(),
    "cmsis_nn_cifar10": _cmsis_cifar(),
    "mobilenet_v2_030_80": _mobilenet_v2(0.30, 80, 1000),
    # single kernels of ESP-NN's benchmark table (no padding: the output is smaller by k - 1)
    "espnn_conv1x1_64": [_conv(10, 10, 64, 64, 1)[0]],
    "espnn_conv3x3_3_64": [_conv(8, 8, 3, 64, 3)[0]._replace(in_bytes=300)],
    "espnn_dw3x3_16": [_dw(16, 16, 16, 3)[0]._replace(in_bytes=18 * 18 * 16)],
}


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
# held-back MLPerf figures within 31%. Cortex-M7: fitted on CMSIS-NN without TFLM's
# interpreter (5x5 convs); TFLM with CMSIS-NN on a depthwise-heavy MobileNetV2 x0.30, held
# back, is 27% under (an arena in external SDRAM: 82% under, left out by the model). Cortex-M0+:
# fitted on the Pico port's single-core person detection; that run's per-op times, held back,
# check the split between its depthwise and its 1x1 convs (within 17%), not the total (no
# second network measured with these kernels is published; the port of 2021 took 2.7x as long). ESP32-S3: ESP-NN's held-back kernels
# are within 31%, but a 3x3 conv on 3 channels (ESP-NN's slow path) is 74% under.
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
