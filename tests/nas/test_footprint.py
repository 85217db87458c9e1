"""Device figures from the architecture alone: by hand, against the counters, and against a
real int8 .tflite written by the exporter and read by the LiteRT interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from searchapp.nas import footprint
from searchapp.nas.arena import arena_bytes
from searchapp.nas.footprint import KB, figures, flash_bytes, ops, peak_pair_bytes
from searchapp.nas.space import Arch, count_macs, count_params
from searchapp.nas.targets import BOARDS, FLASH_RESERVE_KB, RAM_RESERVE_KB

# L3 C8 on 8x8 RGB images, 2 classes: stride 2 at layers 1 and 2 (depth // 3, 2 * depth // 3)
SMALL = Arch(3, 8, ("sep", "conv", "sep"), (3, 3, 5), "cifar")


def test_the_ops_of_a_small_network_by_hand():
    got = [
        (o.kind, o.in_bytes, o.out_bytes, o.scratch_bytes, o.weights, o.channels)
        for o in ops(SMALL, 3, 8, 2)
    ]
    assert got == [
        ("depthwise", 3 * 64, 3 * 64, 2 * 3, 3, 3),  # normalisation, 1x1 per channel
        ("conv", 3 * 64, 16 * 64, 4 * 28, 9 * 3 * 16, 16),  # cifar stem: 3 -> 2C; 27 -> 28
        ("depthwise", 16 * 64, 16 * 64, 0, 9 * 16, 16),  # layer 0: sep 3x3 (no scratch) ...
        ("conv", 16 * 64, 8 * 64, 0, 16 * 8, 8),  # ... pointwise 16 -> 8
        ("pad", 8 * 64, 8 * 10 * 10, 0, 0, 0),  # layer 1: stride 2 on an even size: PAD 1
        ("conv", 8 * 100, 16 * 16, 4 * 9 * 8, 9 * 8 * 16, 16),  # conv 3x3 8 -> 16, 8 -> 4 px
        ("pad", 16 * 16, 16 * 8 * 8, 0, 0, 0),  # layer 2: sep 5x5 stride 2: PAD 2
        ("depthwise", 16 * 64, 16 * 4, 2 * 25 * 16, 25 * 16, 16),  # 4 -> 2 px
        ("conv", 16 * 4, 32 * 4, 0, 16 * 32, 32),  # pointwise 16 -> 32
        ("mean", 32 * 4, 32, 0, 0, 0),  # its scratch is arena.py's (both kernel builds)
        ("fc", 32, 2, 0, 32 * 2, 2),
    ]


def test_the_figures_of_a_small_network_by_hand():
    fig = figures(SMALL, 3, 8, 2)
    op_list = ops(SMALL, 3, 8, 2)
    # TFLM's arena, rounded up to 0.1 KB; the board's adds CMSIS-NN's scratch buffers
    assert fig.ram_kb == -(-arena_bytes(op_list) * 10 // KB) / 10
    assert fig.board_ram_kb == -(-arena_bytes(op_list, "cmsis-nn") * 10 // KB) / 10
    assert fig.board_ram_kb >= fig.ram_kb >= (1024 + 1024) / KB  # layer 0's depthwise pair
    assert fig.op_kinds == ("conv", "depthwise", "fc", "mean", "pad")
    weights = 3 + 432 + 144 + 128 + 1152 + 400 + 512 + 64
    channels = 3 + 16 + 16 + 8 + 16 + 16 + 32 + 2
    # input + 8 convs x (weights, bias, output) + 2 PAD outputs + 2 paddings + MEAN's 2
    tensors = 1 + 8 * 3 + 4 + 2
    size = (
        footprint.TFLITE_FIXED_BYTES
        + footprint.TFLITE_TENSOR_BYTES * tensors
        + weights
        + (4 + footprint.QPARAM_CHANNEL_BYTES) * channels
    )
    assert flash_bytes(ops(SMALL, 3, 8, 2)) == size == 31 * 297 + 2835 + 27 * 109 == 14985
    assert fig.flash_kb == round(size / KB, 1)
    assert fig.params == count_params(SMALL, 3, 2) and fig.macs == count_macs(SMALL, 3, 8, 2)


def test_odd_sizes_need_no_pad_and_imagenet_resizes_to_224():
    kinds = [o.kind for o in ops(SMALL, 3, 9, 2)]
    assert "pad" not in kinds  # 9 and 5 px are odd: TFLite's SAME padding is PyTorch's
    imagenet = ops(SMALL.replace(stem="imagenet"), 3, 20, 2)
    assert [o.kind for o in imagenet[:3]] == ["depthwise", "resize", "pad"]
    assert imagenet[1].out_bytes == 3 * 224 * 224
    assert imagenet[3].out_bytes == 8 * 112 * 112  # first stem conv: max(C/2, 8) channels


def test_figures_grow_with_the_network():
    a = figures(Arch.initial(4, 16), 3, 32, 10)
    wider = figures(Arch.initial(4, 32), 3, 32, 10)
    conv = figures(Arch.initial(4, 16).with_layer(1, op="conv"), 3, 32, 10)
    assert wider.ram_kb > a.ram_kb and wider.flash_kb > a.flash_kb
    assert conv.flash_kb > a.flash_kb and conv.params > a.params


def test_boards_come_with_their_datasheet_figures():
    assert (BOARDS["nano33ble"].ram_kb, BOARDS["nano33ble"].flash_kb) == (256, 1024)
    assert (BOARDS["stm32f746"].ram_kb, BOARDS["stm32f746"].flash_kb) == (320, 1024)
    assert (BOARDS["rp2040"].ram_kb, BOARDS["rp2040"].flash_kb) == (264, 2048)
    assert (BOARDS["esp32s3"].ram_kb, BOARDS["esp32s3"].flash_kb) == (512, 8192)
    for b in BOARDS.values():
        assert b.datasheet
        assert b.ram_budget_kb == b.ram_kb - RAM_RESERVE_KB
        assert b.flash_budget_kb == b.flash_kb - FLASH_RESERVE_KB


# ----------------------------------------------------------------------------- a real .tflite


@pytest.mark.parametrize(
    "arch, size, classes",
    [
        (Arch(4, 16, ("sep", "conv", "sep", "sep"), (3, 5, 7, 3), "cifar"), 16, 3),
        (Arch(3, 8, ("sep", "sep", "conv"), (3, 3, 3), "imagenet"), 20, 2),
    ],
    ids=["cifar", "imagenet"],
)
def test_the_estimates_match_the_exported_tflite(tmp_path, arch, size, classes):
    pytest.importorskip("litert_torch", reason="litert-torch is not installed")
    import torch

    from searchapp.nas.export import Classifier
    from searchapp.nas.int8 import export_int8_tflite, tflite_interpreter
    from searchapp.nas.model import build_model
    from tests.nas.test_tflm_calibration import trained_like_batchnorm

    torch.manual_seed(0)
    net = trained_like_batchnorm(build_model(arch, 3, classes))  # the file size is a trained one's
    clf = Classifier(net, [0.5] * 3, [0.25] * 3, 224 if arch.stem == "imagenet" else None)
    calib = np.random.default_rng(0).integers(0, 256, (4, size, size, 3), dtype=np.uint8)
    path = tmp_path / "model_int8.tflite"
    export_int8_tflite(clf, calib, path)

    fig = figures(arch, 3, size, classes)
    actual = path.stat().st_size
    assert abs(fig.flash_kb * KB - actual) <= 0.10 * actual, (fig.flash_kb * KB, actual)

    interp = tflite_interpreter(path)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    op_list = [o for o in interp._get_ops_details() if o["op_name"] != "DELEGATE"]
    activations = {interp.get_input_details()[0]["index"]}
    activations |= {i for o in op_list for i in o["outputs"]}

    def nbytes(i):
        return int(np.prod(tensors[i]["shape"])) * np.dtype(tensors[i]["dtype"]).itemsize

    pair = max(
        sum(nbytes(i) for i in [*o["inputs"], *o["outputs"]] if i in activations) for o in op_list
    )
    assert all(np.dtype(tensors[i]["dtype"]) == np.int8 for i in activations)
    mine = ops(arch, 3, size, classes)
    assert len(op_list) == len(mine)
    assert peak_pair_bytes(mine) == pair
    assert pair <= fig.ram_kb * KB  # the arena holds that pair and TFLM's bookkeeping
