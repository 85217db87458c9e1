"""A small real dataset that installs offline: scikit-learn's 1,797 handwritten 8x8 digits.

``python -m searchapp.nas.demo_data OUT.npz [--size 16] [--classes 0,1,2]`` writes it as a
packed .npz (upscaled, RGB, seeded stratified 80/20 split) for demos and CPU searches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .data import ImageData, stratified_split


def digits(size: int = 16, classes: list[int] | None = None, seed: int = 0) -> ImageData:
    """The digits as an ImageData: 8x8 grey levels 0..16 scaled to 0..255 and resized to ``size``."""
    from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

    bunch = load_digits()
    x8 = (bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)  # (N, 8, 8)
    y = bunch.target.astype(np.int64)
    keep = sorted(set(range(10)) if classes is None else set(classes))
    if len(keep) < 2 or any(c not in range(10) for c in keep):
        raise ValueError(f"classes must be at least two of 0..9, got {classes!r}")
    mask = np.isin(y, keep)
    x8, y = x8[mask], np.searchsorted(keep, y[mask])
    big = np.stack(
        [np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in x8]
    )
    x = np.repeat(big[..., None], 3, axis=3)  # (N, size, size, 3)
    x_train, y_train, x_test, y_test = stratified_split(x, y, 0.2, seed)
    return ImageData(
        x_train, y_train, x_test, y_test, [str(c) for c in keep], source="scikit-learn digits"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m searchapp.nas.demo_data")
    p.add_argument("out", help="where to write the .npz")
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--classes", default=None, help="comma-separated digits, e.g. 0,1,7")
    args = p.parse_args(argv)
    try:
        classes = [int(c) for c in args.classes.split(",")] if args.classes else None
        data = digits(args.size, classes)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    data.save_npz(args.out)
    s = data.summary()
    print(
        f"wrote {args.out}: {s['num_classes']} classes, {s['train']} train, {s['test']} test, "
        f"{s['image_size']}x{s['image_size']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
