"""What an architecture needs on a microcontroller, from the architecture alone (no torch).

``figures(arch, in_ch, image_size, num_classes)`` gives the parameters and MACs (as
``space.count_params`` / ``count_macs``), the int8 model's flash size and the tensor arena
TensorFlow Lite Micro needs to run it, before anything is trained. It mirrors
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
  files written by ``int8.export_int8_tflite`` (litert-torch 0.10) for 20 architectures, 21 KB
  to 2.9 MB, both stems, with BatchNorm statistics as a trained network has them (an untrained
  one folds to all-zero biases, which the converter stores once: smaller files); the constant
  term came out at -87 bytes and is taken as 0. Measured: -0.9% to +4.7% (median 0.0%);
  tests/nas/test_tflm_calibration.py bounds it at 2% under and 10% over.

RAM (``ram_kb``): the tensor arena TensorFlow Lite Micro needs to run the int8 model, as
``arena.py`` works it out from these ops the way TFLM's allocator does: the activations laid out
by TFLM's greedy memory planner (each rounded up to 16 bytes, MEAN's scratch buffers with them),
plus the persistent bookkeeping (tensor structs, op data, per-channel quantisation, allocator
objects). It is the arena of the host interpreter that ``tflm.py`` runs every export in (its
reference kernels); tests/nas/test_tflm_calibration.py checks it against that real arena over a
spread of architectures (never more than 2% under, at most 10% over). ``board_ram_kb`` is the
same arena with the scratch buffers of CMSIS-NN, the optimised kernels of Cortex-M boards
(``Op.scratch_bytes``: a k x k conv (k > 1) 2 x k x k x cin int16 values, columns rounded up to
4; a depthwise conv other than 3 x 3 k x k x cin int16 values; none for a 3 x 3 depthwise
conv, a 1 x 1 conv and the head); the budgets of a board (``budget.py``) use it.

Left out: the interpreter and kernel code (``targets.code_bytes`` adds it to a board's flash),
the application's own copy of the image (a camera frame), the stack, and PSRAM / external RAM.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

from .arena import arena_bytes
from .space import IMAGENET_STEM_INPUT, Arch, _conv_out, _stem_layers, count_macs, count_params

KB = 1024

# Flatbuffer structure, fitted to litert-torch 0.10 int8 exports (see the module docstring).
TFLITE_FIXED_BYTES = 0
TFLITE_TENSOR_BYTES = 297
QPARAM_CHANNEL_BYTES = 23


@dataclass(frozen=True)
class Figures:
    """An architecture's size: parameters and MACs (float32 model), int8 RAM and flash in KB.

    ``ram_kb``: TFLM's tensor arena with the reference kernels (what the host interpreter
    measures); ``board_ram_kb``: the same with CMSIS-NN's scratch buffers (None: as ram_kb);
    ``op_kinds``: the kinds of op the .tflite uses (for the kernels' code size on a board)."""

    params: int
    macs: int
    ram_kb: float
    flash_kb: float
    board_ram_kb: float | None = None
    op_kinds: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


class Op(NamedTuple):
    """One int8 operator of the exported model: its activations, scratch and constants."""

    kind: str  # depthwise | resize | pad | conv | mean | fc
    in_bytes: int
    out_bytes: int
    scratch_bytes: int = 0  # CMSIS-NN's scratch buffer (DSP build); MEAN's is arena.py's
    weights: int = 0
    channels: int = 0  # output channels with a bias and per-channel quantisation parameters
    tensors: int = 1  # tensors the op adds to the file: its output and its constants


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
        if depthwise:  # CMSIS-NN's 3 x 3 depthwise kernel needs no scratch
            scratch, weights, kind = (0 if k == 3 else 2 * k * k * cin), k * k * cin, "depthwise"
        else:  # im2col: two columns of k x k x cin (rounded up to 4) int16 values
            scratch = 4 * (-(-k * k * cin // 4) * 4) if k > 1 else 0
            weights, kind = k * k * cin * cout, "conv"
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
    out.append(Op("mean", act, c, tensors=2))  # output + axes
    out.append(Op("fc", c, num_classes, 0, c * num_classes, num_classes, tensors=3))
    return out


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
    """Parameters, MACs, int8 RAM (TFLM's arena) and flash (KB) of ``arch`` on these images."""
    op_list = ops(arch, in_ch, image_size, num_classes)
    return Figures(
        params=count_params(arch, in_ch, num_classes),
        macs=count_macs(arch, in_ch, image_size, num_classes),
        ram_kb=_kb_up(arena_bytes(op_list)),
        flash_kb=round(flash_bytes(op_list) / KB, 1),
        board_ram_kb=_kb_up(arena_bytes(op_list, "cmsis-nn")),
        op_kinds=tuple(sorted({op.kind for op in op_list})),
    )


def _kb_up(n: int) -> float:
    """Bytes as KB with one decimal, rounded up (an arena figure is never rounded down)."""
    return -(-n * 10 // KB) / 10
