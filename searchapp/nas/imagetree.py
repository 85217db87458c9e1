"""A tree of image files (a folder or a zip, see filetree.py) read into one ImageData.

The layout is ``train/<class>/*`` (+ optional ``test/<class>/*``) or ``<class>/*``, possibly
wrapped in one top-level folder. Headers are read first, so that the pixel budget is checked
and the arrays allocated once before anything is decoded; then each image is decoded straight
into its row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .errors import DataError
from .filetree import FileTree
from .imagedata import ImageData
from .images import IMAGE_EXTENSIONS, decode_image, probe_image
from .limits import Limits
from .splits import split_indices


@dataclass
class _Rejects:
    """Bad files with their reasons; with ``strict`` the first one raises instead."""

    strict: bool
    files: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, full: str, exc: DataError) -> None:
        if self.strict:
            raise exc
        self.files.append((full, str(exc).removeprefix(f"{full}: ")))


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
    ``limits.max_side``.
    """
    label = source or "dataset"
    reject = _Rejects(strict)
    entries, classes = _find_images(files, label, reject)
    images = _probe_images(files, entries, classes, label, limits, reject)
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

    def arrange(keep: np.ndarray) -> tuple[np.ndarray, int]:
        y = np.array([images[i].label for i in keep], np.int64)
        test = np.array([images[i].test for i in keep], bool)
        order, n_train = _arrange(y, test, classes, label, test_fraction, seed)
        return keep[order], n_train

    order, n_train = arrange(np.arange(len(images)))
    row = np.empty(len(images), np.int64)
    row[order] = np.arange(len(images))
    x, decoded, resized = _decode_images(files, images, row, side, limits, reject)
    if not decoded.all():  # rare: arrange the survivors again (one copy of the array)
        order, n_train = arrange(np.flatnonzero(decoded))
        x = x[row[order]]
    y = np.array([images[i].label for i in order], np.int64)
    return ImageData(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        classes,
        reject.files,
        source,
        resized=sum(resized.values()),
        resized_from=resized.most_common(1)[0][0] if resized else "",
    )


def _find_images(
    files: FileTree, label: str, reject: _Rejects
) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """The image files per split as (class, full name) and the class names, sorted.

    Raises DataError when the layout holds no usable classes."""
    rel, prefix = _strip_common_root(list(files.names))
    entries: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
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
    return entries, classes


def _probe_images(
    files: FileTree,
    entries: dict[str, list[tuple[str, str]]],
    classes: list[str],
    label: str,
    limits: Limits,
    reject: _Rejects,
) -> list[_Image]:
    """Every image whose header reads and passes ``limits``, train ones first."""
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
    return images


def _decode_images(
    files: FileTree,
    images: list[_Image],
    row: np.ndarray,
    side: int,
    limits: Limits,
    reject: _Rejects,
) -> tuple[np.ndarray, np.ndarray, Counter]:
    """The pixels, one image at a time, into one (N, side, side, 3) array at ``row[i]``.

    Also which images decoded, and a count of the original sizes of those that were
    cropped or scaled ("WxH")."""
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
    return x, decoded, resized


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
