"""The paper's baselines: MobileNetV2 and EfficientNet-B0, trained like a candidate.

Built with torchvision's builders from random init (never downloaded weights). For 32x32
inputs the paper (§4.2.1, Table 5) turns the first two stride-2 layers of both networks into
stride 1: the stem conv and the first block of the 24-channel stage, so resolutions go
32 -> 32 -> 32 -> 16 -> 8 -> 8 -> 4 instead of 224 -> 112 -> 56 -> 28 -> 14 -> 14 -> 7.
Channels are unchanged. Inputs of 224 (Tiny-ImageNet upscaled, as in the paper) keep the
original strides.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.models import efficientnet_b0, mobilenet_v2

from .data import ImageData
from .space import default_stem
from .train import DeviceData, EpochCallback, Recipe, resolve_device, train_model

BASELINES = {
    "mobilenet_v2": mobilenet_v2,  # the paper's "M-Net"
    "efficientnet_b0": efficientnet_b0,  # the paper's "E-Net"
}
# Table 5: the first two stride-2 convs (stem, then the first block of stage "24") become 1.
SMALL_INPUT_STRIDE_ONE = 2


def small_input(image_size: int) -> bool:
    """Whether a net seeing ``image_size`` pixels gets Table 5's CIFAR strides (as our stems)."""
    return default_stem(image_size) == "cifar"


def strided_convs(model: nn.Module) -> list[str]:
    """Names of the convs with stride 2, in forward order."""
    return [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and tuple(m.stride) != (1, 1)
    ]


def build_baseline(name: str, num_classes: int, image_size: int) -> nn.Module:
    """Args: name: "mobilenet_v2" or "efficientnet_b0"; num_classes: head outputs;
    image_size: the side of the images the net will see (<= 64: Table 5 strides)."""
    if name not in BASELINES:
        raise ValueError(f"Unsupported baseline {name!r} (expected one of {', '.join(BASELINES)})")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    model = BASELINES[name](weights=None, num_classes=num_classes)
    if small_input(image_size):
        modules = dict(model.named_modules())
        for conv_name in strided_convs(model)[:SMALL_INPUT_STRIDE_ONE]:
            modules[conv_name].stride = (1, 1)  # 'same' padding: the size is kept
    return model


def count_macs(model: nn.Module, image_size: int, in_ch: int = 3) -> int:
    """Multiply-accumulates of one forward pass (convs and linear layers), by hooks."""
    total = 0

    def conv_hook(m: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += out.numel() * k  # out: (1, C, H, W)

    def linear_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(1, in_ch, image_size, image_size, device=p.device, dtype=p.dtype))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return total


def train_baseline(
    name: str,
    data: ImageData | DeviceData,
    recipe: Recipe,
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    image_size: int | None = None,
    keep_state: bool = False,
) -> dict:
    """Train a baseline from scratch with ``recipe`` (as train_candidate does a candidate).

    ``image_size`` is the side the net sees (None: the data's own; 224 to upscale Tiny-ImageNet
    as the paper does). Returns the metrics as a dict (``state_dict`` only with keep_state).
    """
    if name not in BASELINES:
        raise ValueError(f"Unsupported baseline {name!r} (expected one of {', '.join(BASELINES)})")
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    dd = data if isinstance(data, DeviceData) else DeviceData(data, dev)
    size = image_size or dd.image_size
    res = train_model(
        lambda: build_baseline(name, dd.num_classes, size),
        dd,
        recipe,
        seed=seed,
        resize_to=size if size != dd.image_size else None,
        macs=count_macs(build_baseline(name, dd.num_classes, size), size, dd.in_ch),
        on_epoch=on_epoch,
        should_stop=should_stop,
        keep_state=keep_state,
        eval_batch=256,
    )
    out = res.metrics()
    out.update(
        name=name,
        image_size=size,
        strides="cifar" if small_input(size) else "imagenet",
        recipe=recipe.to_dict(),
        seed=seed,
    )
    if keep_state and res.state_dict is not None:
        out["state_dict"] = res.state_dict
    return out
