"""Image datasets as packed uint8 arrays, read from a folder, a zip or an .npz.

``load_dataset`` is the one entry point; the pieces live beside it, and every name is
importable from here:

- imagedata.py: ``ImageData`` (``(N, H, W, 3)`` uint8 arrays, checked once) and its .npz form
- images.py: one image file's header checked and its pixels decoded (``decode_image``)
- imagetree.py: a folder or zip of class folders read into one ``ImageData``
- splits.py: the seeded train/test and train/validation splits

Folders and zips are walked by filetree.py, under the size limits of limits.py.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from .errors import DataError
from .filetree import folder_tree, zip_tree
from .imagedata import ImageData, load_npz
from .images import HEAD_BYTES, IMAGE_EXTENSIONS, decode_image, probe_image
from .imagetree import read_image_tree
from .limits import Limits
from .splits import MIN_VAL_PER_CLASS, split_indices, stratified_split, validation_indices

__all__ = [
    "HEAD_BYTES",
    "IMAGE_EXTENSIONS",
    "MIN_VAL_PER_CLASS",
    "DataError",
    "ImageData",
    "decode_image",
    "load_dataset",
    "load_npz",
    "probe_image",
    "read_image_tree",
    "split_indices",
    "stratified_split",
    "validation_indices",
]


def load_dataset(
    path: str | os.PathLike,
    *,
    strict: bool = True,
    seed: int = 0,
    test_fraction: float = 0.2,
    image_size: int | None = None,
    limits: Limits = Limits(),
) -> ImageData:
    """Read an image folder, a zip of one, or an .npz. Raises DataError with a one-line reason.

    ``limits`` bound what a folder or zip may hold (the web passes its settings).
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        tree = folder_tree(p)
    elif p.suffix.lower() == ".npz":
        return load_npz(p)
    elif p.suffix.lower() == ".zip" or zipfile.is_zipfile(p):
        tree = zip_tree(p, limits)
    else:
        raise DataError(f"{p}: not an image folder, a .zip or an .npz")
    with tree:
        return read_image_tree(
            tree,
            source=str(p),
            strict=strict,
            seed=seed,
            test_fraction=test_fraction,
            image_size=image_size,
            limits=limits,
        )
