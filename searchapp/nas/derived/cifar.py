"""CIFAR-10's python version (``cifar-10-python.tar.gz`` or its ``cifar-10-batches-py/``).

The archive is read in one streaming pass, nothing extracted to disk; its pickled batches are
loaded with the safe unpickler. One read serves every subset derived from it.
"""

from __future__ import annotations

import difflib
import gzip
import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import ImageData
from ..errors import DataError
from .classlist import check_class_list, no_duplicates
from .sources import CIFAR10_DIR, CIFAR10_FILE, resolve_source
from .unpickle import safe_unpickle

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
# The paper writes "auto" for automobile (Tables 3, 4 and 6).
CIFAR10_ALIASES = {"auto": "automobile"}
CIFAR10_SPLIT = (5000, 1000)  # per class, train / test

CIFAR10_BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
CIFAR10_MEMBERS = [*CIFAR10_BATCHES, "test_batch", "batches.meta"]
MAX_PICKLE_BYTES = 64 * 2**20  # a real batch is ~31 MB


@dataclass
class Cifar10:
    """The whole CIFAR-10 archive in memory: x (N, 32, 32, 3) uint8, y (N,) int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    source: str


def _cifar_members_from_tar(path: Path) -> dict[str, bytes]:
    """Read the needed members in one streaming pass over the (gzipped) tar."""
    found: dict[str, bytes] = {}
    names: list[str] = []
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if gz else raw
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                for m in tf:
                    names.append(m.name)
                    base = m.name.rsplit("/", 1)[-1]
                    if not m.isfile() or base not in CIFAR10_MEMBERS or base in found:
                        continue
                    if m.size > MAX_PICKLE_BYTES:
                        raise DataError(f"{path}: member {m.name} is too large ({m.size} bytes)")
                    f = tf.extractfile(m)
                    assert f is not None
                    data = f.read()
                    if len(data) != m.size:
                        raise DataError(f"{path}: archive is truncated (in {m.name})")
                    found[base] = data
            if gz:  # a tar can end before its gzip stream does; reading on checks the CRC
                while stream.read(1 << 20):
                    pass
    except DataError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if not names:
            raise DataError(f"{path}: not a readable .tar.gz archive ({exc})") from exc
        raise DataError(f"{path}: archive is truncated or corrupt ({exc})") from exc
    if any("cifar-10-batches-bin" in n for n in names):
        raise DataError(
            f"{path}: this is CIFAR-10's binary version; use the python version {CIFAR10_FILE}"
        )
    missing = [n for n in CIFAR10_MEMBERS if n not in found]
    if missing:
        raise DataError(
            f"{path}: not the CIFAR-10 python archive (no {CIFAR10_DIR}/{missing[0]} inside)"
        )
    return found


def _cifar_members_from_dir(folder: Path) -> dict[str, bytes]:
    missing = [n for n in CIFAR10_MEMBERS if not (folder / n).is_file()]
    if missing:
        raise DataError(f"{folder}: not a CIFAR-10 python folder (no {missing[0]} inside)")
    out = {}
    for n in CIFAR10_MEMBERS:
        if (folder / n).stat().st_size > MAX_PICKLE_BYTES:
            raise DataError(f"{folder / n}: too large for a CIFAR-10 batch")
        out[n] = (folder / n).read_bytes()
    return out


def _cifar_batch(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    d = safe_unpickle(raw, name)
    if not isinstance(d, dict):
        raise DataError(f"{name}: not a CIFAR-10 batch (a {type(d).__name__}, not a dict)")
    d = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError(f"{name}: not a CIFAR-10 batch (no uint8 'data' array)")
    if data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{name}: images have {data.shape[1]} values, expected 3072 (32x32x3)")
    y = np.asarray(labels if labels is not None else [], dtype=np.int64).reshape(-1)
    if len(y) != len(data):
        raise DataError(f"{name}: {len(data)} images but {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{name}: labels outside 0..9")
    # rows are 1024 red, 1024 green, 1024 blue values of a 32x32 image
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y


def read_cifar10(source: str | os.PathLike) -> Cifar10:
    """Read the whole CIFAR-10 python archive (or folder) into memory, once."""
    p = resolve_source("cifar10", source)
    members = _cifar_members_from_dir(p) if p.is_dir() else _cifar_members_from_tar(p)
    meta = safe_unpickle(members["batches.meta"], "batches.meta")
    names = meta.get(b"label_names", meta.get("label_names")) if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != 10:
        raise DataError(f"{p}: batches.meta lacks the 10 label_names")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    # pop each raw pickle once unpickled: peak memory stays near one copy of the dataset
    xs, ys = zip(*(_cifar_batch(members.pop(b), b) for b in CIFAR10_BATCHES), strict=True)
    x_test, y_test = _cifar_batch(members.pop("test_batch"), "test_batch")
    # x: (N, 32, 32, 3), one copy of the archive; each derived subset copies out of it
    return Cifar10(
        x_train=np.concatenate(xs),
        y_train=np.concatenate(ys),
        x_test=x_test,
        y_test=y_test,
        classes=classes,
        source=str(p),
    )


def cifar10_class(name: str, classes=CIFAR10_CLASSES) -> str:
    """The CIFAR-10 class called ``name`` (case-insensitive; "auto" means automobile)."""
    n = name.strip().lower()
    n = CIFAR10_ALIASES.get(n, n)
    if n in classes:
        return n
    close = difflib.get_close_matches(n, [*classes, *CIFAR10_ALIASES], n=3, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise DataError(
        f"unknown CIFAR-10 class {name!r}{hint} (classes: {', '.join(classes)})",
        field="classes",
    )


def derive_cifar10(source: str | os.PathLike | Cifar10, classes: list[str]) -> ImageData:
    """Every train and test image of the named classes; labels follow the order given.

    ``source`` is the archive, its folder, or a ``Cifar10`` already read (to derive many).
    """
    names = check_class_list(classes)
    resolved = [cifar10_class(n) for n in names]  # before reading: bad names fail fast
    no_duplicates(resolved, names)
    c = source if isinstance(source, Cifar10) else read_cifar10(source)
    idx = [c.classes.index(r) for r in resolved]

    def pick(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lut = np.full(10, -1, np.int64)
        lut[idx] = np.arange(len(idx))
        new = lut[y]
        keep = np.flatnonzero(new >= 0)  # keeps the archive's order
        return np.ascontiguousarray(x[keep]), new[keep]

    x_train, y_train = pick(c.x_train, c.y_train)
    x_test, y_test = pick(c.x_test, c.y_test)
    return ImageData(x_train, y_train, x_test, y_test, resolved, source=f"cifar10:{c.source}")
