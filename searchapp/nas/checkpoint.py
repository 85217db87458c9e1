"""The weights file model.pt: what it holds and how it is read back as a runnable model.

A checkpoint is a plain dict (tensors, numbers, strings, lists) that
``torch.load(weights_only=True)`` reads: the architecture, the state dict and the
normalisation, so the file alone rebuilds the classifier.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .augment import channel_stats
from .data import ImageData
from .model import build_model
from .space import IMAGENET_STEM_INPUT, Arch

FORMAT = "mininas-weights-v1"


class Classifier(nn.Module):
    """The found network with its preprocessing: float pixels in [0, 1], (N, 3, H, W) -> logits."""

    def __init__(self, net: nn.Module, mean: list[float], std: list[float], resize_to: int | None):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.resize_to = resize_to

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        if self.resize_to:
            x = nn.functional.interpolate(
                x, size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False
            )
        return self.net(x)


def checkpoint(arch: Arch, state: dict, data: ImageData, extra: dict | None = None) -> dict:
    """A plain dict (tensors, numbers, strings, lists) that torch.load(weights_only=True) reads.

    The normalisation is the trainer's own (channel_stats of the training images).
    """
    mean, std = channel_stats(torch.from_numpy(data.x_train).permute(0, 3, 1, 2))
    return {
        "format": FORMAT,
        "arch": arch.to_dict(),
        "state_dict": state,
        "in_ch": 3,
        "num_classes": data.num_classes,
        "classes": list(data.classes),
        "image_size": data.image_size,
        "mean": mean.tolist(),
        "std": std.tolist(),
        **(extra or {}),
    }


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[Classifier, dict]:
    """Rebuild the Classifier (in eval mode) from a model.pt; returns it and the checkpoint."""
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a Mini-NAS weights file")
    arch = Arch.from_dict(ckpt["arch"])
    net = build_model(arch, ckpt["in_ch"], ckpt["num_classes"])
    net.load_state_dict(ckpt["state_dict"])
    resize = IMAGENET_STEM_INPUT if arch.stem == "imagenet" else None
    model = Classifier(net, ckpt["mean"], ckpt["std"], resize).eval()
    return model, ckpt
