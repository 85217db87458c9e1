"""Tiny generated image data for the engine tests (no files outside tmp_path are read)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from searchapp.nas.data import ImageData


def pattern_images(n: int, size: int, label: int, rng: np.random.Generator) -> np.ndarray:
    """(n, size, size, 3) uint8 images whose class is visible: stripes whose direction is the label."""
    yy, xx = np.mgrid[0:size, 0:size]
    period = 4
    if label % 3 == 0:
        base = (yy // (period // 2)) % 2
    elif label % 3 == 1:
        base = (xx // (period // 2)) % 2
    else:
        base = ((xx + yy) // (period // 2)) % 2
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        colour = rng.integers(60, 255, size=3)
        noise = rng.normal(0, 20, size=(size, size, 3))
        img = base[..., None] * colour[None, None, :] + noise + 20
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def make_data(classes=("cat", "dog"), n_train=24, n_test=8, size=16, seed=0) -> ImageData:
    rng = np.random.default_rng(seed)
    xs, ys, xt, yt = [], [], [], []
    for c in range(len(classes)):
        xs.append(pattern_images(n_train, size, c, rng))
        ys += [c] * n_train
        xt.append(pattern_images(n_test, size, c, rng))
        yt += [c] * n_test
    return ImageData(
        np.concatenate(xs),
        np.array(ys, np.int64),
        np.concatenate(xt),
        np.array(yt, np.int64),
        list(classes),
    )


def write_folder(root: Path, data: ImageData, split: bool = True, fmt: str = "png") -> Path:
    """Write data as train/<class>/*.png (+ test/) or, with split=False, as <class>/*.png."""
    root.mkdir(parents=True, exist_ok=True)
    parts = [("train", data.x_train, data.y_train)]
    if split:
        parts.append(("test", data.x_test, data.y_test))
    for name, x, y in parts:
        for i, (img, label) in enumerate(zip(x, y, strict=True)):
            folder = root / name / data.classes[label] if split else root / data.classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{name}_{i:04d}.{fmt}")
    return root
