"""A folder of labelled images as a user uploads it: train/<class>/*.png and test/<class>/*.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image_folder(root: Path, train: int = 16, test: int = 6, size: int = 16) -> Path:
    """train/<class>/*.png and test/<class>/*.png: horizontal vs vertical stripes, with noise."""
    rng = np.random.default_rng(0)
    stripes = (np.arange(size) // 2 % 2 * 180).astype(np.uint8)
    patterns = {"horizontal": np.tile(stripes[:, None], (1, size)),
                "vertical": np.tile(stripes[None, :], (size, 1))}  # fmt: skip
    for split, count in (("train", train), ("test", test)):
        for name, pattern in patterns.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for n in range(count):
                noise = rng.integers(0, 60, (size, size, 3))
                pixels = np.clip(pattern[..., None] + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{n:02d}.png")
    return root
