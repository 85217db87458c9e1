"""Model builder: shapes, stems, op structure; on CUDA too when there is one."""

import pytest
import torch

from searchapp.nas.model import build_model
from searchapp.nas.space import Arch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "arch, size",
    [
        (Arch(8, 32, ("sep", "conv") * 4, (5, 5, 3, 3, 5, 7, 7, 3)), 32),
        (Arch.initial(3, 16), 16),
        (Arch.initial(5, 16, "imagenet"), 224),
    ],
)
def test_it_maps_images_to_logits(arch, size, device):
    torch.manual_seed(0)
    model = build_model(arch, 3, 5).to(device).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size, device=device))
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()


def test_imagenet_stem_takes_224_to_28():
    model = build_model(Arch.initial(3, 16, "imagenet"), 3, 2)
    assert model.stem(torch.randn(1, 3, 224, 224)).shape[-2:] == (28, 28)


def test_sep_is_depthwise_then_pointwise_and_conv_is_plain():
    model = build_model(Arch(3, 16, ("sep", "conv", "sep"), (5, 7, 3)), 3, 2)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].groups == convs[0].in_channels and convs[0].kernel_size == (5, 5)
    assert convs[1].kernel_size == (1, 1)
    assert convs[2].groups == 1 and convs[2].kernel_size == (7, 7)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.features) == 3


def test_it_rejects_one_class():
    with pytest.raises(ValueError, match="num_classes"):
        build_model(Arch.initial(3, 16), 3, 1)
