"""Tiny archives in exactly the official CIFAR-10 and Tiny-ImageNet formats (engine and web tests)."""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from searchapp.nas.derived import CIFAR10_CLASSES

# ----------------------------------------------------------------------------- CIFAR-10

_RECONSTRUCT = np.ndarray((0,), np.uint8).__reduce__()[0]


class _Py2Pickler(pickle._Pickler):
    """Writes pickles as Python 2's cPickle did for CIFAR-10: str as STRING, numpy.core names."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = _save_str
    dispatch[str] = _save_str

    def save_global(self, obj, name=None):
        if obj is _RECONSTRUCT:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def cifar_batch(n: int, batch_no: int, rng: np.random.Generator) -> dict:
    """n images; labels cycle 0..9; red = 20 * label, green = batch number, pixel (0, 1) red = 255."""
    labels = [i % 10 for i in range(n)]
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    for i, y in enumerate(labels):
        data[i, :1024] = 20 * y
        data[i, 1024:2048] = batch_no
        data[i, 1] = 255  # red plane, row 0, column 1
    return {
        "batch_label": f"batch {batch_no}",
        "labels": labels,
        "data": data,
        "filenames": [f"img_{batch_no}_{i}.png" for i in range(n)],
    }


def cifar_members(per_batch: int = 20, test: int = 20, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    members = {f"data_batch_{b}": py2_pickle(cifar_batch(per_batch, b, rng)) for b in range(1, 6)}
    members["test_batch"] = py2_pickle(cifar_batch(test, 9, rng))
    members["batches.meta"] = py2_pickle(
        {"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": per_batch, "num_vis": 3072}
    )
    return members


def write_tar(path: Path, members: dict[str, bytes], top: str = "cifar-10-batches-py") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, raw in {"readme.html": b"<html></html>", **members}.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
    return path


# ----------------------------------------------------------------------------- Tiny-ImageNet

WORDS = {
    "n04540053": "volleyball",
    "n02802426": "basketball",
    "n03983396": "pop bottle, soda bottle",
    "n02823428": "beer bottle",
    "n02814533": "beach wagon, station wagon, wagon, estate car, beach waggon, station waggon, waggon",
    "n03977966": "police van, police wagon, paddy wagon, patrol wagon, wagon, black Maria",
}
NOT_IN_TINY = {"n00000042": "volleyball game", "n00000043": "basketball"}  # words.txt has ~82k


def jpeg(colour: tuple[int, int, int], gray: bool = False) -> bytes:
    im = Image.new("RGB", (64, 64), colour)
    if gray:
        im = im.convert("L")
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def colour_of(i: int) -> tuple[int, int, int]:
    return (30 * (i + 1) % 256, 200, 10)


def tiny_files(words: dict[str, str] = WORDS, n_train: int = 5, n_val: int = 2) -> dict[str, bytes]:
    """The official layout: wnids.txt, words.txt, train/<wnid>/images/*.JPEG + boxes, val, test."""
    files = {
        "wnids.txt": "".join(f"{w}\n" for w in words).encode(),
        "words.txt": "".join(f"{w}\t{t}\n" for w, t in {**NOT_IN_TINY, **words}.items()).encode(),
    }
    ann, k = [], 0
    for i, wnid in enumerate(words):
        boxes = []
        for j in range(n_train):
            name = f"{wnid}_{j}.JPEG"
            files[f"train/{wnid}/images/{name}"] = jpeg(colour_of(i), gray=(j == 0))
            boxes.append(f"{name}\t0\t0\t63\t63\n")
        files[f"train/{wnid}/{wnid}_boxes.txt"] = "".join(boxes).encode()
        for _ in range(n_val):
            files[f"val/images/val_{k}.JPEG"] = jpeg(colour_of(i))
            ann.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t63\t63\n")
            k += 1
    files["val/val_annotations.txt"] = "".join(ann).encode()
    files["test/images/test_0.JPEG"] = jpeg((1, 2, 3))
    return files


def write_zip(path: Path, files: dict[str, bytes], top: str = "tiny-imagenet-200") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in files.items():
            zf.writestr(f"{top}/{name}", raw)
    return path
