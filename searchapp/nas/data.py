"""Image datasets as packed uint8 arrays, read from a folder, a zip or an .npz.

Everything is decoded and checked once, then held as ``(N, H, W, 3)`` uint8 arrays; the
trainer moves them to the device as ``(N, 3, H, W)``. Originals are not trusted after that.
Folders and zips are walked by filetree.py, under the size limits of limits.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError
from .files import atomic_path, human_bytes
from .filetree import FileTree, folder_tree, zip_tree
from .limits import MIN_SIDE, Limits

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
HEAD_BYTES = 64 * 2**10  # holds the header of nearly every image file


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


@contextlib.contextmanager
def _open_image(raw: bytes, name: str, limits: Limits, whole: bool = True) -> Iterator[Image.Image]:
    """The image in ``raw``, its header read and checked against ``limits``; any failure
    inside the block becomes a DataError with a reason. ``whole``: ``raw`` is all of the file
    (not just its first bytes), so its length is checked too."""
    if whole and len(raw) == 0:
        raise DataError(f"{name}: empty file")
    if whole and len(raw) > limits.max_image_bytes:
        raise DataError(f"{name}: file larger than {human_bytes(limits.max_image_bytes)}")
    try:
        with Image.open(io.BytesIO(raw)) as im:
            w, h = im.size
            if w * h > limits.max_image_pixels:
                raise DataError(
                    f"{name}: {w}x{h} pixels is more than allowed ({limits.max_image_pixels})"
                )
            if min(w, h) < MIN_SIDE:
                raise DataError(f"{name}: size {w}x{h} is under {MIN_SIDE} px")
            yield im
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise DataError(f"{name}: image too large (decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise DataError(f"{name}: not an image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{name}: unreadable image ({exc})") from exc


def decode_image(
    raw: bytes, name: str, size: int | None = None, limits: Limits = Limits()
) -> np.ndarray:
    """Decode and check one image file; return (H, W, 3) uint8, or (size, size, 3) when a
    size is given (centre square, scaled). Raises DataError with a reason."""
    with _open_image(raw, name, limits) as im:
        if size is not None and im.format == "JPEG":
            im.draft(None, (size, size))  # decode a large JPEG at 1/2, 1/4 or 1/8 scale
        im.load()
        im = _to_rgb(im)
        if size is not None and im.size != (size, size):
            im = _center_square(im).resize((size, size), Image.BILINEAR)
        return np.array(im, dtype=np.uint8)  # writable (asarray's would be read-only)


def probe_image(files: FileTree, name: str, limits: Limits = Limits()) -> tuple[int, int]:
    """(width, height) of an image in ``files``, from its header, after the size checks.

    Reads the first HEAD_BYTES, which hold the header of nearly every image; the whole file
    only when they do not. Nothing is decoded. Raises DataError with a reason."""
    head = files.read(name, HEAD_BYTES)
    if len(head) > HEAD_BYTES:  # more to the file than we read
        if files.size(name) > limits.max_image_bytes:
            raise DataError(f"{name}: file larger than {human_bytes(limits.max_image_bytes)}")
        try:
            with _open_image(head, name, limits, whole=False) as im:
                return im.size
        except DataError as exc:
            if exc.__cause__ is None:  # a limit, not a header past the first bytes
                raise
        head = files.read(name, limits.max_image_bytes)
    with _open_image(head, name, limits) as im:
        return im.size


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


@dataclass
class _Image:
    """One image file found in the tree, its header read: where its pixels will go."""

    name: str
    label: int
    test: bool  # from a test/ folder
    width: int
    height: int


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
    Images are packed at ``image_size``, or at the most common size found capped at
    ``limits.max_side``. Headers are read first, so that the pixel budget is checked and the
    arrays allocated once before anything is decoded; then each image is decoded straight
    into its row.
    """
    label = source or "dataset"
    rel, prefix = _strip_common_root(list(files.names))
    entries: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    rejected: list[tuple[str, str]] = []

    def reject(full: str, exc: DataError) -> None:
        if strict:
            raise exc
        rejected.append((full, str(exc).removeprefix(f"{full}: ")))

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
            reject(full, DataError(f"{full}: not an image file extension"))
            continue
        entries[split].append((cls, full))
    classes = sorted({c for c, _ in entries["train"]})
    empty = _empty_class_dirs(files.dirs, prefix, has_split, set(classes))
    if empty and classes:
        raise DataError(f"{label}: class {empty[0]!r} has no images")
    if not classes:
        raise DataError(
            f"{label}: no images found; expected train/<class>/<image> or <class>/<image>"
        )
    if len(classes) < 2:
        raise DataError(f"{label}: only one class ({classes[0]!r}); need at least two")
    extra = sorted({c for c, _ in entries["test"]} - set(classes))
    if extra:
        raise DataError(f"{label}: test class {extra[0]!r} has no train folder")

    # Headers first: the size to pack at, the pixel budget, each image's row.
    index = {c: i for i, c in enumerate(classes)}
    images: list[_Image] = []
    for split in ("train", "test"):
        for cls, full in entries[split]:
            try:
                w, h = probe_image(files, full, limits)
            except DataError as exc:
                reject(full, exc)
                continue
            images.append(_Image(full, index[cls], split == "test", w, h))
    if not images:
        raise DataError(f"{label}: none of the images could be read")
    side = image_size or min(
        _common_square(Counter((im.height, im.width) for im in images)), limits.max_side
    )
    pixels = len(images) * side * side
    if pixels > limits.max_pixels:
        raise DataError(
            f"{label}: this dataset would decode to {_mega(pixels)} pixels ({len(images):,} "
            f"images of {side}x{side}), over the {_mega(limits.max_pixels)} pixel budget; use a "
            "smaller working resolution or fewer images"
        )
    y = np.array([im.label for im in images], np.int64)
    test = np.array([im.test for im in images], bool)
    order, n_train = _arrange(y, test, classes, label, test_fraction, seed)
    row = np.empty(len(images), np.int64)
    row[order] = np.arange(len(images))

    # Then the pixels, one image at a time, into the one array (N, side, side, 3).
    x = np.empty((len(images), side, side, 3), np.uint8)
    decoded = np.ones(len(images), bool)
    resized: Counter = Counter()
    for i, im in enumerate(images):
        try:
            raw = files.read(im.name, limits.max_image_bytes)
            x[row[i]] = decode_image(raw, im.name, side, limits)
        except DataError as exc:  # a header that read well over data that does not
            reject(im.name, exc)
            decoded[i] = False
            continue
        if (im.width, im.height) != (side, side):
            resized[f"{im.width}x{im.height}"] += 1
    if not decoded.all():  # rare: arrange the survivors again (one copy of the array)
        keep = np.flatnonzero(decoded)
        order, n_train = _arrange(y[keep], test[keep], classes, label, test_fraction, seed)
        order = keep[order]
        x = x[row[order]]
    y = y[order]
    return ImageData(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        classes,
        rejected,
        source,
        resized=sum(resized.values()),
        resized_from=resized.most_common(1)[0][0] if resized else "",
    )


def _arrange(
    y: np.ndarray, test: np.ndarray, classes: list[str], label: str, test_fraction: float, seed: int
) -> tuple[np.ndarray, int]:
    """The images' order when packed (train rows, then test rows) and the number of train rows.

    Images from test/ folders are the test split; without any, a seeded split is made.
    """
    counts = np.bincount(y[~test], minlength=len(classes))
    for c, n in zip(classes, counts, strict=True):
        if n == 0:
            raise DataError(f"{label}: class {c!r} has no readable images")
    if test.any():
        train, held = np.flatnonzero(~test), np.flatnonzero(test)
    else:
        train, held = split_indices(y, test_fraction, seed)
    return np.concatenate([train, held]), len(train)


def _mega(n: int) -> str:
    """524288000 -> '524.3 M'."""
    return f"{n / 1e6:.4g} M"


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
    tr, te = split_indices(y, test_fraction, seed)
    return x[tr], y[tr], x[te], y[te]


def split_indices(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test indices of a seeded per-class split (see stratified_split)."""
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
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


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


# ----------------------------------------------------------------------------- validation split

MIN_VAL_PER_CLASS = 2


def validation_indices(
    y: np.ndarray, val_frac: float, seed: int, min_per_class: int = MIN_VAL_PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) indices into the training images: a seeded, stratified split.

    Each class gives ``round(n * val_frac)`` images to validation, at least ``min_per_class``,
    and keeps at least one for training. The split depends only on ``y``, the share and the
    seed, so a resumed search carves the same one."""
    if not 0 < val_frac < 1:
        raise DataError(f"val_frac must be in (0, 1), got {val_frac}")
    rng = np.random.default_rng([seed, 0x5A1])  # not the same stream as the train/test split
    train_idx, val_idx = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        if len(idx) < min_per_class + 1:
            raise DataError(
                f"class {int(c)} has {len(idx)} training images; a validation split needs at "
                f"least {min_per_class + 1} per class ({min_per_class} to validate, 1 to train)"
                " - add images, or select on test"
            )
        n_val = min(max(min_per_class, round(len(idx) * val_frac)), len(idx) - 1)
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(val_idx))
