"""Tiny-ImageNet (``tiny-imagenet-200.zip`` or its folder), read through the loader's file tree.

The layout: wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG with
val/val_annotations.txt. The val split is our test split, as in the paper. Nothing is
extracted to disk.
"""

from __future__ import annotations

import difflib
import os
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from ..data import ImageData, decode_image
from ..errors import DataError
from ..filetree import FileTree, folder_tree, unsafe_name, zip_tree
from .classlist import check_class_list, no_duplicates
from .sources import resolve_source

TINY_SPLIT = (500, 50)  # per class, train / val (our test)
TINY_SIZE = 64
MAX_TEXT_BYTES = 16 * 2**20  # words.txt is ~2.6 MB
MAX_JPEG_BYTES = 2**20  # a 64x64 JPEG is ~2 KB


@dataclass(frozen=True)
class TinyClass:
    wnid: str
    words: tuple[str, ...]  # synonyms from words.txt; the first is the display name

    @property
    def name(self) -> str:
        return self.words[0] if self.words else self.wnid


class _Archive:
    """The archive's files by path relative to the folder that holds wnids.txt."""

    def __init__(self, source: str | os.PathLike):
        self.path = resolve_source("tinyimagenet", source)
        self.tree: FileTree = folder_tree(self.path) if self.path.is_dir() else zip_tree(self.path)
        tops = sorted((n for n in self.tree.names if n.rsplit("/", 1)[-1] == "wnids.txt"), key=len)
        if not tops:
            self.tree.close()
            raise DataError(f"{self.path}: not the Tiny-ImageNet archive (no wnids.txt inside)")
        self.prefix = tops[0][: -len("wnids.txt")]

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.tree.close()

    def names(self) -> list[str]:
        n = len(self.prefix)
        return [name[n:] for name in self.tree.names if name.startswith(self.prefix)]

    def read(self, name: str, limit: int) -> bytes:
        """``name`` (as the archive's own lists give it), at most ``limit`` bytes."""
        if unsafe_name(name):
            raise DataError(f"{self.path}: unsafe file name {name!r} in the archive's lists")
        full = self.prefix + name
        if full not in self.tree:
            raise DataError(f"{self.path}: not the Tiny-ImageNet layout (no {name} inside)")
        try:
            raw = self.tree.read(full, limit)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{self.path}: archive is truncated or corrupt ({exc})") from exc
        if len(raw) > limit:
            raise DataError(f"{self.path}: {name} is larger than expected")
        return raw

    def text(self, name: str) -> str:
        return self.read(name, MAX_TEXT_BYTES).decode("utf-8", errors="replace")

    def image(self, name: str) -> np.ndarray:
        return decode_image(self.read(name, MAX_JPEG_BYTES), name, TINY_SIZE)


def _index(archive: _Archive) -> list[TinyClass]:
    wnids = [w.strip() for w in archive.text("wnids.txt").splitlines() if w.strip()]
    if not wnids or not all(w.startswith("n") and w[1:].isdigit() for w in wnids):
        raise DataError(f"{archive.path}: wnids.txt does not list WordNet ids")
    wanted = set(wnids)
    words: dict[str, tuple[str, ...]] = {}
    for line in archive.text("words.txt").splitlines():  # all ImageNet synsets, ~82k lines
        wnid, _, text = line.partition("\t")
        if wnid in wanted:
            words[wnid] = tuple(s.strip() for s in text.split(",") if s.strip())
    return [TinyClass(w, words.get(w, ())) for w in wnids]


def tinyimagenet_classes(source: str | os.PathLike) -> list[TinyClass]:
    """The classes in a Tiny-ImageNet archive (wnids.txt order), with their words."""
    with _Archive(source) as archive:
        return _index(archive)


def match_tiny_class(name: str, index: list[TinyClass]) -> TinyClass:
    """A wnid, or a word: the first synonym first, then any synonym (case-insensitive)."""
    n = name.strip()
    by_wnid = {c.wnid: c for c in index}
    if n in by_wnid:
        return by_wnid[n]
    low = n.lower()
    for hits in (
        [c for c in index if c.words and c.words[0].lower() == low],
        [c for c in index if any(w.lower() == low for w in c.words)],
    ):
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            opts = ", ".join(f"{c.wnid} ({c.name})" for c in hits)
            raise DataError(
                f"Tiny-ImageNet class {name!r} is ambiguous: {opts}; give the wnid",
                field="classes",
            )
    every = {w.lower(): c for c in index for w in c.words}
    close = difflib.get_close_matches(low, list(every), n=5, cutoff=0.6)
    close += [w for w in every if low and low in w and w not in close][: 5 - len(close)]
    hint = "; close matches: " + ", ".join(f"{w} ({every[w].wnid})" for w in close) if close else ""
    raise DataError(f"unknown Tiny-ImageNet class {name!r}{hint}", field="classes")


def derive_tinyimagenet(source: str | os.PathLike, classes: list[str]) -> ImageData:
    """All train images and all val images (our test split) of the named classes at 64x64.

    Classes are wnids or words from words.txt; labels follow the order given. Class names
    in the result are the first synonyms ("volleyball"), or "word (wnid)" if two collide.
    """
    names = check_class_list(classes)
    with _Archive(source) as archive:
        return _derive(archive, names)


def _derive(archive: _Archive, names: list[str]) -> ImageData:
    index = _index(archive)
    picked = [match_tiny_class(n, index) for n in names]
    no_duplicates([c.wnid for c in picked], names)
    label = {c.wnid: i for i, c in enumerate(picked)}

    train: dict[str, list[str]] = {c.wnid: [] for c in picked}
    for name in archive.names():  # train/<wnid>/images/<file>
        parts = name.split("/")
        if len(parts) == 4 and parts[0] == "train" and parts[2] == "images" and parts[1] in train:
            if parts[3].lower().endswith((".jpeg", ".jpg")):
                train[parts[1]].append(name)
    xs: list[np.ndarray] = []
    ys: list[int] = []
    for c in picked:
        if not train[c.wnid]:
            raise DataError(f"{archive.path}: no train images for {c.wnid} ({c.name})")
        xs += [archive.image(f) for f in train[c.wnid]]
        ys += [label[c.wnid]] * len(train[c.wnid])

    xt: list[np.ndarray] = []
    yt: list[int] = []
    for line in archive.text("val/val_annotations.txt").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or parts[1] not in label:
            continue
        xt.append(archive.image(f"val/images/{parts[0]}"))
        yt.append(label[parts[1]])

    display = [c.name for c in picked]
    if len(set(display)) != len(display):
        display = [f"{c.name} ({c.wnid})" for c in picked]
    empty = [c for c in picked if label[c.wnid] not in set(yt)]
    if empty:
        raise DataError(f"{archive.path}: no val images for {empty[0].wnid} ({empty[0].name})")
    return ImageData(
        np.stack(xs),
        np.array(ys, np.int64),
        np.stack(xt),
        np.array(yt, np.int64),
        display,
        source=f"tinyimagenet:{archive.path}:{','.join(c.wnid for c in picked)}",
    )
