"""What an architecture needs on a microcontroller, from the architecture alone (no torch).

``figures(arch, in_ch, image_size, num_classes)`` gives the parameters and MACs (as
``space.count_params`` / ``count_macs``), the int8 model's flash size and the peak RAM of a
layer-by-layer int8 executor (TensorFlow Lite Micro), before anything is trained. It mirrors
the network ``model.py`` builds, as the int8 ``.tflite`` export runs it (NHWC, int8 in and out):

- the stem: cifar = one 3x3 conv (in_ch -> 2C) + BN; imagenet = three stride-2 3x3 convs
  (C/2, at least 8 -> C -> 2C) on 224 x 224 (the exported model resizes the image itself);
- before the stem, the normalisation as a 1x1 depthwise conv; a PAD before a stride-2 conv on an
  even size (``ops`` lists them all);
- each layer: sep = depthwise k x k (carries the stride, no BN) + pointwise 1x1 + BN + ReLU;
  conv = k x k + BN + ReLU;
- the head: global average pool (MEAN) + linear (FULLY_CONNECTED) to the class scores.
BatchNorm folds into the conv before it and ReLU fuses into it, so each conv is one op.

Flash (``flash_kb``): the size of the int8 ``.tflite`` file, which is what its C array takes
in flash:
- weights: 1 byte each (int8);
- biases: 4 bytes per output channel (int32) of every conv, depthwise conv and the linear head
  (folding BN gives every conv a bias; the converter gives a depthwise conv without BN a zero
  bias), and the normalisation's 1x1 depthwise conv;
- per-channel quantisation parameters of weights and biases (float32 scales, int64 zero
  points in flatbuffer vectors): ``QPARAM_CHANNEL_BYTES`` per output channel;
- the flatbuffer's structure: ``TFLITE_FIXED_BYTES`` once (header, operator codes, signature)
  plus ``TFLITE_TENSOR_BYTES`` per tensor (its name, shape, per-tensor quantisation and table
  entry; names are long module paths). These three constants are fitted by least squares to
  files written by ``int8.export_int8_tflite`` (litert-torch 0.10): eight architectures from
  12 KB to 194 KB, cifar and imagenet stems, all within 1.6%; tests/nas/test_footprint.py
  checks the 10% bound against a fresh export.

Peak RAM (``ram_kb``): a layer-by-layer executor holds, while an op runs, that op's input
and output activations (int8, 1 byte per value) plus its scratch buffer; the figure is the
largest such sum over the ops. The input image is the first op's input, so it is counted
there. Scratch buffers are CMSIS-NN's (what TFLM uses on Cortex-M): a k x k conv (k > 1)
2 x k x k x cin int16 values, a depthwise conv k x k x cin int16 values, a 1x1 conv and the
linear head none, MEAN one int32 per channel.

Left out (the budgets' reserves in ``targets.py`` are for them): TFLM's arena alignment and
its bookkeeping (tensor structs, allocation tables: a few KB), the interpreter and kernel
code, the application's own copy of the image (a camera frame), and memory-planner gaps (TFLM's
greedy planner can need more than the largest pair when lifetimes interleave; for a plain chain
of ops as here it does not).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

from .space import IMAGENET_STEM_INPUT, Arch, _conv_out, _stem_layers, count_macs, count_params

KB = 1024

# Flatbuffer structure, fitted to litert-torch 0.10 int8 exports (see the module docstring).
TFLITE_FIXED_BYTES = 272
TFLITE_TENSOR_BYTES = 238
QPARAM_CHANNEL_BYTES = 21


@dataclass(frozen=True)
class Figures:
    """An architecture's size: parameters and MACs (float32 model), int8 RAM and flash in KB."""

    params: int
    macs: int
    ram_kb: float
    flash_kb: float

    def to_dict(self) -> dict:
        return asdict(self)


class Op(NamedTuple):
    """One int8 operator of the exported model: its activations, scratch and constants."""

    kind: str  # depthwise | resize | pad | conv | mean | fc
    in_bytes: int
    out_bytes: int
    scratch_bytes: int = 0
    weights: int = 0
    channels: int = 0  # output channels with a bias and per-channel quantisation parameters
    tensors: int = 1  # tensors the op adds to the file: its output and its constants

    @property
    def ram_bytes(self) -> int:
        return self.in_bytes + self.out_bytes + self.scratch_bytes


def _same_padding(size: int, k: int, stride: int) -> tuple[int, int]:
    """TFLite's SAME padding (before, after) of one spatial axis."""
    out = _conv_out(size, stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def ops(arch: Arch, in_ch: int = 3, image_size: int = 32, num_classes: int = 10) -> list[Op]:
    """The int8 operators of the exported network, in execution order.

    As ``int8.export_int8_tflite`` writes them: the input image (1, H, W, in_ch) int8; the
    normalisation as a 1x1 depthwise conv; for the imagenet stem a RESIZE_BILINEAR to 224 x 224;
    a PAD before a strided conv whose padding (PyTorch's k // 2 on both sides) is not TFLite's
    SAME padding (even input sizes); BN and ReLU folded into the convs; MEAN and
    FULLY_CONNECTED last."""
    size = image_size
    act = in_ch * size * size  # the input image
    out = [Op("depthwise", act, act, 2 * in_ch, in_ch, in_ch, tensors=3)]  # (x - mean) / std
    if arch.stem == "imagenet":
        size = IMAGENET_STEM_INPUT
        resized = in_ch * size * size
        out.append(Op("resize", act, resized, tensors=2))  # output + size
        act = resized
    pads: set[int] = set()  # the converter shares one paddings constant per amount

    def conv(cin: int, cout: int, k: int, stride: int, depthwise: bool = False) -> None:
        nonlocal size, act
        if _same_padding(size, k, stride) != (k // 2, k // 2):
            padded = cin * (size + 2 * (k // 2)) ** 2
            out.append(Op("pad", act, padded, tensors=1 + (k not in pads)))
            pads.add(k)
            act = padded
        size = _conv_out(size, stride)
        new = cout * size * size
        if depthwise:
            scratch, weights, kind = 2 * k * k * cin, k * k * cin, "depthwise"
        else:
            scratch, weights, kind = (4 * k * k * cin if k > 1 else 0), k * k * cin * cout, "conv"
        out.append(Op(kind, act, new, scratch, weights, cout, tensors=3))
        act = new

    for cin, cout, k, stride in _stem_layers(arch, in_ch):
        conv(cin, cout, k, stride)
    for s in arch.layer_specs():
        cin, cout, k, stride = s["cin"], s["cout"], s["k"], s["stride"]
        if s["op"] == "sep":
            conv(cin, cin, k, stride, depthwise=True)
            conv(cin, cout, 1, 1)
        else:
            conv(cin, cout, k, stride)
    c = arch.out_channels()
    out.append(Op("mean", act, c, scratch_bytes=4 * c, tensors=2))  # output + axes
    out.append(Op("fc", c, num_classes, 0, c * num_classes, num_classes, tensors=3))
    return out


def peak_ram_bytes(op_list: list[Op]) -> int:
    """The largest input + output + scratch of any op."""
    return max(op.ram_bytes for op in op_list)


def peak_pair_bytes(op_list: list[Op]) -> int:
    """The largest input + output activation pair of any op (no scratch)."""
    return max(op.in_bytes + op.out_bytes for op in op_list)


def flash_bytes(op_list: list[Op]) -> int:
    """The int8 .tflite file's size, as the module docstring counts it."""
    tensors = 1 + sum(op.tensors for op in op_list)  # + the input
    total = TFLITE_FIXED_BYTES + TFLITE_TENSOR_BYTES * tensors
    for op in op_list:  # int8 weights; per output channel an int32 bias and quantisation
        total += op.weights + (4 + QPARAM_CHANNEL_BYTES) * op.channels
    return total


def figures(arch: Arch, in_ch: int = 3, image_size: int = 32, num_classes: int = 10) -> Figures:
    """Parameters, MACs, int8 peak RAM and flash (KB) of ``arch`` on these images."""
    op_list = ops(arch, in_ch, image_size, num_classes)
    return Figures(
        params=count_params(arch, in_ch, num_classes),
        macs=count_macs(arch, in_ch, image_size, num_classes),
        ram_kb=round(peak_ram_bytes(op_list) / KB, 1),
        flash_kb=round(flash_bytes(op_list) / KB, 1),
    )
