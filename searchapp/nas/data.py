"""Image datasets as packed uint8 arrays, read from a folder, a zip or an .npz.

Everything is decoded and checked once, then held as ``(N, H, W, 3)`` uint8 arrays; the
trainer moves them to the device as ``(N, 3, H, W)``. Originals are not trusted after that.
Folders and zips are walked by filetree.py, under the size limits of limits.py.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError
from .files import atomic_path, human_bytes
from .filetree import FileTree, folder_tree, zip_tree
from .limits import Limits

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_SIDE = 512  # images are packed at their common size; larger ones are refused
MIN_SIDE = 8


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
        }

    def save_npz(self, path: str | os.PathLike) -> None:
        """Write the packed arrays (atomically: a temp file renamed into place)."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file: savez adds no suffix
            np.savez(
                f,
                x_train=self.x_train,
                y_train=self.y_train,
                x_test=self.x_test,
                y_test=self.y_test,
                classes_json=np.array(json.dumps(self.classes)),
            )


# ----------------------------------------------------------------------------- npz


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


# ----------------------------------------------------------------------------- images


def decode_image(
    raw: bytes, name: str, size: int | None = None, limits: Limits = Limits()
) -> np.ndarray:
    """Decode and check one image file; return (H, W, 3) uint8. Raises DataError with a reason."""
    if len(raw) == 0:
        raise DataError(f"{name}: empty file")
    if len(raw) > limits.max_image_bytes:
        raise DataError(f"{name}: file larger than {human_bytes(limits.max_image_bytes)}")
    try:
        with Image.open(io.BytesIO(raw)) as im:
            w, h = im.size
            if w * h > limits.max_image_pixels:
                raise DataError(
                    f"{name}: {w}x{h} pixels is more than allowed ({limits.max_image_pixels})"
                )
            if max(w, h) > MAX_SIDE or min(w, h) < MIN_SIDE:
                raise DataError(f"{name}: size {w}x{h} outside {MIN_SIDE}..{MAX_SIDE} px")
            im.load()
            im = _to_rgb(im)
            if size is not None and im.size != (size, size):
                im = _center_square(im).resize((size, size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8).copy()
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise DataError(f"{name}: image too large (decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise DataError(f"{name}: not an image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{name}: unreadable image ({exc})") from exc


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() or 1.0
        im = Image.fromarray((arr * (255.0 / hi)).astype(np.uint8))
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert("RGB")


def _center_square(im: Image.Image) -> Image.Image:
    w, h = im.size
    if w == h:
        return im
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return im.crop((left, top, left + s, top + s))


# ----------------------------------------------------------------------------- image trees


def _strip_common_root(names: list[str]) -> tuple[list[str], str]:
    """Drop one top-level folder that wraps everything (e.g. ``mydata/train/cat/1.png``)."""
    prefix = ""
    while names:
        firsts = {n.split("/", 1)[0] for n in names}
        # a wrapper holds class folders (or train/test) itself: wrapper/<dir>/<file>
        if len(firsts) != 1 or any(n.count("/") < 2 for n in names):
            break
        (top,) = firsts
        if top in ("train", "test"):
            break
        prefix += top + "/"
        names = [n.split("/", 1)[1] for n in names]
    return names, prefix


def read_image_tree(
    files: FileTree,
    *,
    source: str = "",
    strict: bool = False,
    seed: int = 0,
    test_fraction: float = 0.2,
    image_size: int | None = None,
    limits: Limits = Limits(),
) -> ImageData:
    """Read ``train/<class>/*`` (+ optional ``test/<class>/*``) or ``<class>/*`` into ImageData.

    Bad files are collected in ``rejected`` with a reason, or raise at once when ``strict``.
    Images are packed at ``image_size``, or at the most common size found.
    """
    rel, prefix = _strip_common_root(list(files.names))
    entries: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    rejected: list[tuple[str, str]] = []
    has_split = any(n.split("/", 1)[0] in ("train", "test") and n.count("/") >= 2 for n in rel)
    for n, full in zip(rel, (prefix + r for r in rel), strict=True):
        parts = n.split("/")
        if has_split:
            if parts[0] not in ("train", "test") or len(parts) < 3:
                continue
            split, cls = parts[0], parts[1]
        else:
            if len(parts) < 2:
                continue
            split, cls = "train", parts[0]
        if not n.lower().endswith(IMAGE_EXTENSIONS):
            reason = f"{full}: not an image file extension"
            if strict:
                raise DataError(reason)
            rejected.append((full, "not an image file extension"))
            continue
        entries[split].append((cls, full))
    classes = sorted({c for c, _ in entries["train"]})
    empty = _empty_class_dirs(files.dirs, prefix, has_split, set(classes))
    if empty and classes:
        raise DataError(f"{source or 'dataset'}: class {empty[0]!r} has no images")
    if not classes:
        raise DataError(
            f"{source or 'dataset'}: no images found; expected train/<class>/<image> or <class>/<image>"
        )
    if len(classes) < 2:
        raise DataError(
            f"{source or 'dataset'}: only one class ({classes[0]!r}); need at least two"
        )
    extra = sorted({c for c, _ in entries["test"]} - set(classes))
    if extra:
        raise DataError(f"{source or 'dataset'}: test class {extra[0]!r} has no train folder")

    decoded: dict[str, list[tuple[int, np.ndarray]]] = {"train": [], "test": []}
    index = {c: i for i, c in enumerate(classes)}
    sizes: Counter = Counter()
    raw_images: dict[str, list[tuple[int, str, np.ndarray]]] = {"train": [], "test": []}
    for split in ("train", "test"):
        for cls, full in entries[split]:
            try:
                raw = files.read(full, limits.max_image_bytes)
                arr = decode_image(raw, full, image_size, limits)
            except DataError as exc:
                if strict:
                    raise
                rejected.append((full, str(exc).split(": ", 1)[-1]))
                continue
            sizes[arr.shape[:2]] += 1
            raw_images[split].append((index[cls], full, arr))
    if not sizes:
        raise DataError(f"{source or 'dataset'}: none of the images could be read")
    target = image_size or _common_square(sizes)
    for split in ("train", "test"):
        for label, full, arr in raw_images[split]:
            if arr.shape[:2] != (target, target):
                arr = np.asarray(
                    _center_square(Image.fromarray(arr)).resize((target, target), Image.BILINEAR)
                )
            decoded[split].append((label, arr))

    def pack(items):
        if not items:
            return np.zeros((0, target, target, 3), np.uint8), np.zeros((0,), np.int64)
        return (
            np.stack([a for _, a in items]).astype(np.uint8),
            np.array([label for label, _ in items], dtype=np.int64),
        )

    x_train, y_train = pack(decoded["train"])
    x_test, y_test = pack(decoded["test"])
    counts = np.bincount(y_train, minlength=len(classes))
    for c, n in zip(classes, counts, strict=True):
        if n == 0:
            raise DataError(f"{source or 'dataset'}: class {c!r} has no readable images")
    if len(y_test) == 0:
        x_train, y_train, x_test, y_test = stratified_split(x_train, y_train, test_fraction, seed)
    return ImageData(x_train, y_train, x_test, y_test, classes, rejected, source)


def _empty_class_dirs(dirs: list[str], prefix: str, has_split: bool, found: set[str]) -> list[str]:
    """Class folders that exist but hold no image files."""
    out = []
    for d in dirs:
        if not d.startswith(prefix):
            continue
        parts = d[len(prefix) :].split("/")
        if has_split and len(parts) == 2 and parts[0] == "train" and parts[1] not in found:
            out.append(parts[1])
        elif not has_split and len(parts) == 1 and parts[0] not in found:
            out.append(parts[0])
    return sorted(out)


def _common_square(sizes: Counter) -> int:
    (h, w), _ = sizes.most_common(1)[0]
    return min(h, w)


def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    """Seeded per-class split; each class keeps at least one image on each side."""
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        if len(idx) < 2:
            raise DataError(
                f"class {int(c)} has {len(idx)} image; need at least 2 to split off a test set"
            )
        n_test = min(max(1, round(len(idx) * test_fraction)), len(idx) - 1)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    tr, te = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))
    return x[tr], y[tr], x[te], y[te]


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
