"""Write a search's outputs: result.json, model.pt (weights + architecture) and model.onnx.

Every file is written to a temporary name and renamed into place, so a crash or a full disk
never leaves a partial file under the final name.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .augment import channel_stats
from .data import ImageData
from .files import atomic_path
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


def export_onnx(model: Classifier, image_size: int, path: str | os.PathLike) -> None:
    """Export with a dynamic batch axis; input 'image' float (N, 3, H, W) in [0, 1]."""
    model = model.eval()
    dummy = torch.rand(2, 3, image_size, image_size)
    kwargs = dict(
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (dummy,), str(path), dynamo=False, **kwargs)
        except TypeError:  # an older torch without the dynamo switch
            torch.onnx.export(model, (dummy,), str(path), **kwargs)


def write_outputs(result, data: ImageData, out_dir: str | os.PathLike) -> dict:
    """Write result.json, model.pt and model.onnx for a SearchResult; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"result": out / "result.json"}
    state = getattr(result, "model_state", result.best_state)  # the final model's, if trained
    if result.best is not None and state is not None:
        arch = Arch.from_dict(result.best["arch"])
        final = getattr(result, "final", None) or {}
        extra = {"test_acc": final.get("test_acc", result.best["test_acc"])}
        extra["final"] = getattr(result, "final_state", None) is not None
        ckpt = checkpoint(arch, state, data, extra)
        paths["weights"] = out / "model.pt"
        with atomic_path(paths["weights"]) as tmp:
            torch.save(ckpt, tmp)
        model, _ = load_checkpoint(paths["weights"])
        paths["onnx"] = out / "model.onnx"
        with atomic_path(paths["onnx"]) as tmp:
            export_onnx(model, data.image_size, tmp)
    with atomic_path(paths["result"]) as tmp:
        tmp.write_text(json.dumps(result.to_json(), indent=1))
    return {k: str(v) for k, v in paths.items()}
