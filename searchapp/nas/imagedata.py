"""Packed image datasets: ``ImageData``, its arrays checked once, and its .npz form.

Everything is decoded and checked once, then held as ``(N, H, W, 3)`` uint8 arrays; the
trainer moves them to the device as ``(N, 3, H, W)``. Originals are not trusted after that.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .errors import DataError
from .files import atomic_path


@dataclass
class ImageData:
    """Packed images: x_* uint8 (N, H, W, 3), y_* int64 (N,), class names in label order."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    rejected: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""
    resized: int = 0
    """Images not stored at their own size: cropped to a square and/or scaled."""
    resized_from: str = ""
    """The most common original size among those, e.g. "512x512"."""

    def __post_init__(self) -> None:
        self.validate()

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def validate(self) -> None:
        for name in ("x_train", "x_test"):
            x = getattr(self, name)
            if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3:
                raise DataError(f"{name} must be uint8 (N, H, W, 3), got {x.dtype} {x.shape}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DataError(
                f"train and test images differ in shape: {self.x_train.shape[1:]} vs {self.x_test.shape[1:]}"
            )
        if self.x_train.shape[1] != self.x_train.shape[2]:
            raise DataError(f"images must be square, got {self.x_train.shape[1:3]}")
        if len(self.x_train) != len(self.y_train) or len(self.x_test) != len(self.y_test):
            raise DataError("image and label counts differ")
        if len(self.classes) < 2:
            raise DataError(f"need at least two classes, got {len(self.classes)}")
        for split, y in (("train", self.y_train), ("test", self.y_test)):
            counts = np.bincount(y, minlength=len(self.classes)) if len(y) else np.zeros(1)
            if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
                raise DataError(f"{split} labels out of range for {len(self.classes)} classes")
            empty = [c for c, n in zip(self.classes, counts, strict=False) if n == 0]
            if empty:
                raise DataError(f"class {empty[0]!r} has no {split} images")

    def counts(self) -> dict:
        tr = np.bincount(self.y_train, minlength=self.num_classes).tolist()
        te = np.bincount(self.y_test, minlength=self.num_classes).tolist()
        return {c: {"train": a, "test": b} for c, a, b in zip(self.classes, tr, te, strict=True)}

    def summary(self) -> dict:
        return {
            "classes": list(self.classes),
            "num_classes": self.num_classes,
            "train": int(len(self.y_train)),
            "test": int(len(self.y_test)),
            "image_size": self.image_size,
            "counts": self.counts(),
            "source": self.source,
            "rejected": len(self.rejected),
            "resized": self.resized,
            "resized_from": self.resized_from,
        }

    def save_npz(self, path: str | os.PathLike) -> None:
        """Write the packed arrays, deflated (atomically: a temp file renamed into place).

        Flat or repeated images shrink hundreds of times; photos by a fifth or so. load_npz
        reads compressed and uncompressed files alike."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file: savez adds no suffix
            np.savez_compressed(
                f,
                x_train=self.x_train,
                y_train=self.y_train,
                x_test=self.x_test,
                y_test=self.y_test,
                classes_json=np.array(json.dumps(self.classes)),
            )


def load_npz(path: str | os.PathLike) -> ImageData:
    """Read x_train, y_train, x_test, y_test (uint8 NHWC or NCHW) and classes_json."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(z.files)
            if missing:
                raise DataError(f"{path}: npz lacks {', '.join(sorted(missing))}")
            x_train, x_test = _to_nhwc3(z["x_train"]), _to_nhwc3(z["x_test"])
            y_train, y_test = z["y_train"].astype(np.int64), z["y_test"].astype(np.int64)
            if "classes_json" in z.files:
                classes = json.loads(str(z["classes_json"]))
            else:
                n = int(max(y_train.max(), y_test.max())) + 1
                classes = [str(i) for i in range(n)]
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable npz dataset ({exc})") from exc
    return ImageData(x_train, y_train, x_test, y_test, list(classes), source=str(path))


def _to_nhwc3(x: np.ndarray) -> np.ndarray:
    if x.dtype != np.uint8:
        raise DataError(f"images must be uint8, got {x.dtype}")
    if x.ndim == 3:  # (N, H, W) grayscale
        x = x[..., None]
    if x.ndim != 4:
        raise DataError(f"images must be 4-D, got shape {x.shape}")
    if x.shape[1] in (1, 3) and x.shape[3] not in (1, 3):  # NCHW
        x = x.transpose(0, 2, 3, 1)
    if x.shape[3] == 1:
        x = np.repeat(x, 3, axis=3)
    return np.ascontiguousarray(x)
