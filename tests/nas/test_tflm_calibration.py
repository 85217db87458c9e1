"""The RAM and flash estimates against the real thing, over a spread of the search space.

Each architecture is exported as the search exports it (untrained weights, BatchNorm statistics
set as training leaves them: the arena does not depend on the values, and the file only on
whether folded biases are all zero, which the converter then stores once) and run in TensorFlow Lite Micro's interpreter, whose smallest working arena
is found by bisection. The RAM estimate (footprint / arena.py) must never be more than 2% below
that arena and at most 10% above it; the flash estimate likewise against the .tflite's size.
The spread: depths 3-15, widths 8-64, sep and conv, kernels 3/5/7, both stems, 8-32 px (odd and
even), 2-100 classes; one model whose arena is set by TFLM's planning tables, not its tensors.
"""

from __future__ import annotations

import numpy as np
import pytest

from searchapp.nas.arena import arena_bytes
from searchapp.nas.footprint import KB, figures, ops
from searchapp.nas.space import Arch
from searchapp.nas.tflm import smallest_arena

SPREAD = [
    (Arch(3, 16, ("sep",) * 3, (3,) * 3, "cifar"), 32, 10),
    (Arch(4, 16, ("sep", "conv", "sep", "sep"), (3, 5, 7, 3), "cifar"), 16, 3),
    (Arch(3, 8, ("sep", "sep", "conv"), (3, 3, 3), "imagenet"), 20, 2),
    (Arch(15, 8, ("sep",) * 15, (3,) * 15, "cifar"), 8, 2),  # planning tables > tensors
    (Arch(3, 64, ("conv",) * 3, (7,) * 3, "cifar"), 8, 100),
    (
        Arch(6, 48, ("conv", "sep", "conv", "sep", "conv", "sep"), (3, 5, 7, 7, 5, 3), "cifar"),
        32,
        10,
    ),
    (Arch(3, 16, ("conv",) * 3, (3,) * 3, "cifar"), 9, 3),  # odd sizes: no PAD
]


def trained_like_batchnorm(net):
    """`net` in eval mode with BatchNorm statistics as training leaves them: the folded biases
    are not all zero (an untrained network's are, and the converter stores those once)."""
    import torch

    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return net.eval()


def _export(arch: Arch, size: int, classes: int, path) -> bytes:
    import torch

    from searchapp.nas.export import Classifier
    from searchapp.nas.int8 import export_int8_tflite
    from searchapp.nas.model import build_model

    torch.manual_seed(0)
    net = trained_like_batchnorm(build_model(arch, 3, classes))
    clf = Classifier(net, [0.5] * 3, [0.25] * 3, 224 if arch.stem == "imagenet" else None)
    calib = np.random.default_rng(0).integers(0, 256, (4, size, size, 3), dtype=np.uint8)
    export_int8_tflite(clf, calib, path)
    return path.read_bytes()


@pytest.mark.parametrize(
    "arch, size, classes", SPREAD, ids=[f"{a.short}-{s}px-{c}cls" for a, s, c in SPREAD]
)
def test_the_estimates_bound_tflms_real_arena_and_the_tflite(tmp_path, arch, size, classes):
    model = _export(arch, size, classes, tmp_path / "model_int8.tflite")
    real = smallest_arena(model)
    estimate = arena_bytes(ops(arch, 3, size, classes))
    error = (estimate - real) / real
    assert -0.02 <= error <= 0.10, (arch.short, size, classes, estimate, real)
    fig = figures(arch, 3, size, classes)
    assert fig.ram_kb * KB >= estimate  # rounded up, never down
    assert fig.ram_kb * KB <= 1.10 * real
    assert fig.board_ram_kb >= fig.ram_kb
    flash_error = (fig.flash_kb * KB - len(model)) / len(model)
    assert -0.02 <= flash_error <= 0.10, (arch.short, fig.flash_kb * KB, len(model))
