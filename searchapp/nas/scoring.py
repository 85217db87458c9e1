"""A trained network scored on uint8 images: accuracy and loss, per-class counts, probabilities.

Always in eval mode under ``torch.no_grad()``, in batches, with one device sync at the end.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .augment import Augment


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    aug: Augment,
    batch_size: int = 1024,
    autocast: bool = False,
) -> tuple[float, float]:
    """Accuracy (percent) and mean loss on uint8 images x, in eval mode (one sync at the end)."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    loss_sum = torch.zeros((), dtype=torch.float32, device=x.device)
    for i in range(0, len(x), batch_size):
        xb = aug(x[i : i + batch_size], train=False)
        yb = y[i : i + batch_size]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model(xb)
        loss_sum += F.cross_entropy(out.float(), yb, reduction="sum")
        correct += (out.argmax(1) == yb).sum()
    n = max(len(x), 1)
    return 100.0 * correct.item() / n, loss_sum.item() / n


@torch.no_grad()
def score(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    aug: Augment,
    num_classes: int,
    batch_size: int = 1024,
    autocast: bool = False,
) -> tuple[float, list[int], list[int], np.ndarray]:
    """Accuracy (percent), per-class correct counts, per-class image counts and the per-image
    hits (a boolean numpy vector in the order of x) on x, y."""
    model.eval()
    correct = torch.zeros(num_classes, dtype=torch.long, device=x.device)
    hits = torch.zeros(len(y), dtype=torch.bool, device=x.device)
    for i in range(0, len(x), batch_size):
        xb = aug(x[i : i + batch_size], train=False)
        yb = y[i : i + batch_size]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model(xb)
        hit = out.float().argmax(1) == yb
        hits[i : i + batch_size] = hit
        correct += torch.bincount(yb[hit], minlength=num_classes)
    count = torch.bincount(y, minlength=num_classes).tolist()
    correct_l = correct.tolist()
    return 100.0 * sum(correct_l) / max(len(y), 1), correct_l, count, hits.cpu().numpy()


@torch.no_grad()
def predict(
    model: torch.nn.Module, x: torch.Tensor, aug: Augment, batch_size: int = 1024
) -> torch.Tensor:
    """Class probabilities (N, classes), float32 on the CPU, in eval mode."""
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        outs.append(torch.softmax(model(aug(x[i : i + batch_size], train=False)).float(), 1))
    return torch.cat(outs).cpu() if outs else torch.zeros(0)
