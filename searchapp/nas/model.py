"""Build a PyTorch network from an Arch (a VGG-like list of layers, as torchvision's vgg.py)."""

from __future__ import annotations

import torch
from torch import nn

from .space import Arch, _stem_layers


def _conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class MiniNet(nn.Module):
    """Stem -> depth layers -> global average pool -> linear head."""

    def __init__(self, arch: Arch, in_ch: int = 3, num_classes: int = 10):
        super().__init__()
        self.arch = arch
        stem: list[nn.Module] = []
        stem_convs = _stem_layers(arch, in_ch)
        for j, (cin, cout, k, stride) in enumerate(stem_convs):
            stem += [
                nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
                nn.BatchNorm2d(cout),
            ]
            if j < len(stem_convs) - 1:
                stem.append(nn.ReLU(inplace=True))
        self.stem = nn.Sequential(*stem)
        layers: list[nn.Module] = []
        for s in arch.layer_specs():
            cin, cout, k, stride = s["cin"], s["cout"], s["k"], s["stride"]
            if s["op"] == "sep":
                # depthwise k x k carries the stride; pointwise 1 x 1 changes channels
                layers.append(
                    nn.Conv2d(cin, cin, k, stride=stride, padding=k // 2, groups=cin, bias=False)
                )
                layers += _conv_bn_relu(cin, cout, 1)
            else:
                layers += _conv_bn_relu(cin, cout, k, stride)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(arch.out_channels(), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, H, W)
        x = self.features(self.stem(x))
        return self.head(torch.flatten(self.pool(x), 1))


def build_model(arch: Arch, in_ch: int = 3, num_classes: int = 10) -> MiniNet:
    """Args: arch: the architecture; in_ch: image channels; num_classes: head outputs."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if in_ch not in (1, 3):
        raise ValueError(f"in_ch must be 1 or 3, got {in_ch}")
    return MiniNet(arch, in_ch, num_classes)


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
