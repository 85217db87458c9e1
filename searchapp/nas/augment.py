"""Batched augmentation on the training device: random crop with padding, flip, normalise.

Images stay uint8 on the device; each batch is cropped, flipped and normalised in a few
tensor ops instead of per-image PIL transforms in DataLoader workers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def channel_stats(x_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std in [0, 1] units of a (N, C, H, W) uint8 tensor.

    The one definition of the normalisation: the trainer and the exported model both use it.
    """
    n = x_uint8.shape[0]
    sums = torch.zeros(x_uint8.shape[1], dtype=torch.float64, device=x_uint8.device)
    sq = torch.zeros_like(sums)
    for i in range(0, n, 4096):  # chunks keep the float copy small
        xb = x_uint8[i : i + 4096].to(torch.float64) / 255.0
        sums += xb.sum(dim=(0, 2, 3))
        sq += (xb * xb).sum(dim=(0, 2, 3))
    count = n * x_uint8.shape[2] * x_uint8.shape[3]
    mean = sums / count
    std = (sq / count - mean * mean).clamp_min(1e-6).sqrt()
    return mean.float(), std.float()


def random_crop(
    x: torch.Tensor, pad: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero-pad by ``pad`` and take a random HxW crop per image. x: (B, C, H, W), any dtype."""
    if pad <= 0:
        return x
    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=x.device, generator=generator)
    rows = dy[:, None] + torch.arange(h, device=x.device)[None, :]  # (B, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)[None, :]  # (B, W)
    bi = torch.arange(b, device=x.device)[:, None, None]
    # advanced indexing gives (B, H, W, C); move channels back
    out = xp.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image horizontally with probability 1/2. x: (B, C, H, W)."""
    mask = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(3), x)


class Augment:
    """Turns a uint8 batch into a normalised float batch, augmenting when training."""

    def __init__(
        self,
        mean: torch.Tensor,
        std: torch.Tensor,
        *,
        pad: int = 4,
        flip: bool = True,
        resize_to: int | None = None,
        channels_last: bool = False,
    ):
        self.mean = mean.view(1, -1, 1, 1)
        self.std = std.view(1, -1, 1, 1)
        self.pad, self.flip, self.resize_to = pad, flip, resize_to
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(
        self, x: torch.Tensor, train: bool, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if train:
            x = random_crop(x, self.pad, generator)
            if self.flip:
                x = random_flip(x, generator)
        x = (x.float() / 255.0 - self.mean) / self.std
        if self.resize_to and x.shape[-1] != self.resize_to:
            x = F.interpolate(
                x, size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False
            )
        return x.contiguous(memory_format=self.memory_format)
