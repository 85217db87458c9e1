"""Datasets derived from CIFAR-10 and Tiny-ImageNet, and the paper's suite of 31 of them.

Reads the official archives as they are downloaded: CIFAR-10's python version
(``cifar-10-python.tar.gz`` or its ``cifar-10-batches-py/`` folder, pickled batches) and
Tiny-ImageNet (``tiny-imagenet-200.zip`` or its folder: wnids.txt, words.txt,
train/<wnid>/images/*.JPEG, val/images + val/val_annotations.txt). Nothing is extracted to
disk. The pickles are loaded with an unpickler that only builds numpy arrays, so a hostile
archive cannot run code. Tiny-ImageNet's val split is the test split, as in the paper.

Command line: ``python -m searchapp.nas.derived cifar10|tinyimagenet --classes a,b
--source PATH --out FILE.npz`` (one-line reason and exit status 2 on bad input).
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import io
import os
import pickle
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import DataError, ImageData, decode_image

# ----------------------------------------------------------------------------- Sources

CIFAR10_FILE = "cifar-10-python.tar.gz"
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"

TINY_FILE = "tiny-imagenet-200.zip"
TINY_DIR = "tiny-imagenet-200"
TINY_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINY_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"

SOURCES = {
    "cifar10": {"file": CIFAR10_FILE, "dir": CIFAR10_DIR, "url": CIFAR10_URL, "md5": CIFAR10_MD5},
    "tinyimagenet": {"file": TINY_FILE, "dir": TINY_DIR, "url": TINY_URL, "md5": TINY_MD5},
}

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
# The paper writes "auto" for automobile (Tables 3, 4 and 6).
CIFAR10_ALIASES = {"auto": "automobile"}
CIFAR10_SPLIT = (5000, 1000)  # per class, train / test
TINY_SPLIT = (500, 50)  # per class, train / val (our test)
TINY_SIZE = 64

CIFAR10_BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
CIFAR10_MEMBERS = [*CIFAR10_BATCHES, "test_batch", "batches.meta"]
MAX_PICKLE_BYTES = 64 * 2**20  # a real batch is ~31 MB
MAX_TEXT_BYTES = 16 * 2**20  # words.txt is ~2.6 MB
MAX_JPEG_BYTES = 2**20  # a 64x64 JPEG is ~2 KB


def _missing(kind: str, path: Path) -> DataError:
    s = SOURCES[kind]
    return DataError(
        f"{path}: not found; place {s['file']} (or its extracted {s['dir']}/ folder) there, "
        f"downloaded from {s['url']} (md5 {s['md5']})"
    )


# ----------------------------------------------------------------------------- Safe unpickling

_RECONSTRUCT = np.ndarray((0,), np.uint8).__reduce__()[0]  # numpy's own, whatever its module
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 1.x (and the CIFAR files)
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 2.x
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 pickles of protocol < 3 write bytes as _codecs.encode(str, "latin1")
    ("_codecs", "encode"): __import__("codecs").encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays; refuses every other global."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def safe_unpickle(raw: bytes, name: str = "pickle"):
    """Load a Python 2 or 3 pickle of dicts, lists, bytes and numpy arrays (nothing else)."""
    try:
        return _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{name}: unsafe or corrupt pickle ({exc})") from exc
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise DataError(f"{name}: corrupt pickle ({type(exc).__name__}: {exc})") from exc


# ----------------------------------------------------------------------------- CIFAR-10


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


def _resolve(kind: str, source: str | os.PathLike) -> Path:
    """The archive or folder to read: the path itself, or the official name inside a folder."""
    p = Path(source)
    s = SOURCES[kind]
    if not p.exists():
        raise _missing(kind, p)
    if p.is_dir():
        for cand in (p / s["dir"], p / s["file"]):
            if cand.exists():
                return cand
    return p


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
    p = _resolve("cifar10", source)
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


def _check_class_list(classes: list[str]) -> list[str]:
    if isinstance(classes, str):
        classes = classes.split(",")
    names = [str(c).strip() for c in classes]
    if any(not n for n in names):
        raise DataError("empty class name in the class list")
    if len(names) < 2:
        raise DataError(f"need at least two classes, got {len(names)}: {', '.join(names)}")
    return names


def _no_duplicates(resolved: list[str], given: list[str]) -> None:
    seen: dict[str, str] = {}
    for r, g in zip(resolved, given, strict=True):
        if r in seen:
            raise DataError(f"class {r!r} is listed twice ({seen[r]!r} and {g!r})")
        seen[r] = g


def cifar10_class(name: str, classes=CIFAR10_CLASSES) -> str:
    """The CIFAR-10 class called ``name`` (case-insensitive; "auto" means automobile)."""
    n = name.strip().lower()
    n = CIFAR10_ALIASES.get(n, n)
    if n in classes:
        return n
    close = difflib.get_close_matches(n, [*classes, *CIFAR10_ALIASES], n=3, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise DataError(f"unknown CIFAR-10 class {name!r}{hint} (classes: {', '.join(classes)})")


def derive_cifar10(source: str | os.PathLike | Cifar10, classes: list[str]) -> ImageData:
    """Every train and test image of the named classes; labels follow the order given.

    ``source`` is the archive, its folder, or a ``Cifar10`` already read (to derive many).
    """
    names = _check_class_list(classes)
    resolved = [cifar10_class(n) for n in names]  # before reading: bad names fail fast
    _no_duplicates(resolved, names)
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


# ----------------------------------------------------------------------------- Tiny-ImageNet


class _Tree:
    """Read-only access to a Tiny-ImageNet zip or folder by path relative to its root."""

    def __init__(self, path: Path):
        self.path = path
        self.zf: zipfile.ZipFile | None = None
        if path.is_dir():
            self.root = path if (path / "wnids.txt").is_file() else None
            if self.root is None:
                raise DataError(f"{path}: not a Tiny-ImageNet folder (no wnids.txt inside)")
            self._names = None
            return
        try:
            self.zf = zipfile.ZipFile(path)
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataError(f"{path}: not a readable zip file, or truncated ({exc})") from exc
        tops = sorted(
            (i.filename for i in infos if i.filename.rsplit("/", 1)[-1] == "wnids.txt"),
            key=len,
        )
        if not tops:
            raise DataError(f"{path}: not the Tiny-ImageNet archive (no wnids.txt inside)")
        prefix = tops[0][: -len("wnids.txt")]
        self._names = {
            i.filename[len(prefix) :]: i
            for i in infos
            if i.filename.startswith(prefix) and not i.is_dir()
        }

    def __enter__(self) -> _Tree:
        return self

    def __exit__(self, *exc) -> None:
        if self.zf is not None:
            self.zf.close()

    def names_under(self, folder: str) -> list[str]:
        """Sorted file names (relative to the root) directly inside ``folder``."""
        if self._names is None:
            d = self.root / folder
            if not d.is_dir():
                return []
            return sorted(
                f"{folder}/{f.name}" for f in d.iterdir() if f.is_file() and not f.is_symlink()
            )
        pre = folder.rstrip("/") + "/"
        return sorted(n for n in self._names if n.startswith(pre) and "/" not in n[len(pre) :])

    def read(self, name: str, limit: int) -> bytes:
        parts = name.split("/")
        if name.startswith("/") or ".." in parts or "\\" in name or ":" in parts[0]:
            raise DataError(f"{self.path}: unsafe file name {name!r} in the archive's lists")
        try:
            if self._names is None:
                p = self.root / name
                if not p.is_file():
                    raise DataError(f"{self.path}: not the Tiny-ImageNet layout (no {name})")
                if p.stat().st_size > limit:
                    raise DataError(f"{p}: larger than expected ({p.stat().st_size} bytes)")
                return p.read_bytes()
            info = self._names.get(name)
            if info is None:
                raise DataError(f"{self.path}: not the Tiny-ImageNet layout (no {name} inside)")
            if info.file_size > limit:
                raise DataError(f"{self.path}: {name} is larger than expected")
            with self.zf.open(info) as f:
                return f.read(limit + 1)
        except DataError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{self.path}: archive is truncated or corrupt ({exc})") from exc

    def text(self, name: str) -> str:
        return self.read(name, MAX_TEXT_BYTES).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class TinyClass:
    wnid: str
    words: tuple[str, ...]  # synonyms from words.txt; the first is the display name

    @property
    def name(self) -> str:
        return self.words[0] if self.words else self.wnid


def _tiny_open(source: str | os.PathLike) -> _Tree:
    return _Tree(_resolve("tinyimagenet", source))


def _tiny_index(tree: _Tree) -> list[TinyClass]:
    wnids = [w.strip() for w in tree.text("wnids.txt").splitlines() if w.strip()]
    if not wnids or not all(w.startswith("n") and w[1:].isdigit() for w in wnids):
        raise DataError(f"{tree.path}: wnids.txt does not list WordNet ids")
    wanted = set(wnids)
    words: dict[str, tuple[str, ...]] = {}
    for line in tree.text("words.txt").splitlines():  # all ImageNet synsets, ~82k lines
        wnid, _, text = line.partition("\t")
        if wnid in wanted:
            words[wnid] = tuple(s.strip() for s in text.split(",") if s.strip())
    return [TinyClass(w, words.get(w, ())) for w in wnids]


def tinyimagenet_classes(source: str | os.PathLike) -> list[TinyClass]:
    """The classes in a Tiny-ImageNet archive (wnids.txt order), with their words."""
    with _tiny_open(source) as tree:
        return _tiny_index(tree)


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
            raise DataError(f"Tiny-ImageNet class {name!r} is ambiguous: {opts}; give the wnid")
    every = {w.lower(): c for c in index for w in c.words}
    close = difflib.get_close_matches(low, list(every), n=5, cutoff=0.6)
    close += [w for w in every if low and low in w and w not in close][: 5 - len(close)]
    hint = "; close matches: " + ", ".join(f"{w} ({every[w].wnid})" for w in close) if close else ""
    raise DataError(f"unknown Tiny-ImageNet class {name!r}{hint}")


def derive_tinyimagenet(source: str | os.PathLike, classes: list[str]) -> ImageData:
    """All train images and all val images (our test split) of the named classes at 64x64.

    Classes are wnids or words from words.txt; labels follow the order given. Class names
    in the result are the first synonyms ("volleyball"), or "word (wnid)" if two collide.
    """
    names = _check_class_list(classes)
    with _tiny_open(source) as tree:
        return _derive_tiny(tree, names)


def _derive_tiny(tree: _Tree, names: list[str]) -> ImageData:
    index = _tiny_index(tree)
    picked = [match_tiny_class(n, index) for n in names]
    _no_duplicates([c.wnid for c in picked], names)
    label = {c.wnid: i for i, c in enumerate(picked)}

    xs: list[np.ndarray] = []
    ys: list[int] = []
    for c in picked:
        files = [
            f
            for f in tree.names_under(f"train/{c.wnid}/images")
            if f.lower().endswith((".jpeg", ".jpg"))
        ]
        if not files:
            raise DataError(f"{tree.path}: no train images for {c.wnid} ({c.name})")
        for f in files:
            xs.append(decode_image(tree.read(f, MAX_JPEG_BYTES), f, TINY_SIZE))
            ys.append(label[c.wnid])

    xt: list[np.ndarray] = []
    yt: list[int] = []
    for line in tree.text("val/val_annotations.txt").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or parts[1] not in label:
            continue
        f = f"val/images/{parts[0]}"
        xt.append(decode_image(tree.read(f, MAX_JPEG_BYTES), f, TINY_SIZE))
        yt.append(label[parts[1]])

    display = [c.name for c in picked]
    if len(set(display)) != len(display):
        display = [f"{c.name} ({c.wnid})" for c in picked]
    empty = [c for c in picked if label[c.wnid] not in set(yt)]
    if empty:
        raise DataError(f"{tree.path}: no val images for {empty[0].wnid} ({empty[0].name})")
    return ImageData(
        np.stack(xs),
        np.array(ys, np.int64),
        np.stack(xt),
        np.array(yt, np.int64),
        display,
        source=f"tinyimagenet:{tree.path}:{','.join(c.wnid for c in picked)}",
    )


# ----------------------------------------------------------------------------- Download

ProgressCallback = Callable[[int, int | None], None]  # (bytes so far, total or None)


def _hasher(checksum: str) -> tuple[str, str]:
    algo, _, digest = checksum.rpartition(":")
    algo = algo.lower() or {32: "md5", 64: "sha256"}.get(len(digest), "")
    if algo not in ("md5", "sha256") or len(digest) != {"md5": 32, "sha256": 64}[algo]:
        raise ValueError(f"checksum must be an md5 or sha256 hex digest, got {checksum!r}")
    return algo, digest.lower()


def file_checksum(path: str | os.PathLike, algo: str = "md5") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike,
    checksum: str,
    progress: ProgressCallback | None = None,
    *,
    timeout: float = 60.0,
) -> Path:
    """Stream ``url`` to a temp file next to ``dest``, verify it, then rename it into place.

    ``checksum`` is an md5 or sha256 hex digest (optionally "md5:..." / "sha256:..."). On a
    mismatch or a failed transfer the partial file is deleted and DataError is raised.
    """
    algo, want = _hasher(checksum)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h = hashlib.new(algo)
    done = 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            last = 0.0
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
                h.update(chunk)
                done += len(chunk)
                now = time.monotonic()
                if progress is not None and now - last >= 0.2:
                    progress(done, total)
                    last = now
        if progress is not None:
            progress(done, total)
        if total is not None and done != total:
            raise DataError(f"{url}: download ended early ({done} of {total} bytes)")
        got = h.hexdigest()
        if got != want:
            raise DataError(
                f"{url}: checksum mismatch ({algo} expected {want}, got {got}); download deleted"
            )
        os.replace(tmp, dest)
        return dest
    except DataError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DataError(
            f"could not download {url} ({getattr(exc, 'reason', exc)}); place the file at {dest}"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def fetch(kind: str, folder: str | os.PathLike, progress: ProgressCallback | None = None) -> Path:
    """The official archive in ``folder`` (or its extracted folder), downloaded if missing."""
    if kind not in SOURCES:
        raise ValueError(f"unknown source {kind!r} (expected one of {', '.join(SOURCES)})")
    s = SOURCES[kind]
    folder = Path(folder)
    for cand in (folder / s["file"], folder / s["dir"]):
        if cand.exists():
            return cand
    try:
        return download(s["url"], folder / s["file"], s["md5"], progress)
    except DataError as exc:
        raise DataError(f"{exc}; get it from {s['url']} (md5 {s['md5']})") from exc


# ----------------------------------------------------------------------------- The paper's suite

# Paper Table 4 (accuracy %, E-Net = EfficientNet-B0, M-Net = MobileNetV2, ours = Mini-NAS,
# params in millions) and Table 6 (gain = ours - best baseline, eff = MobileNetV2 params / ours).
_P = ("enet", "mnet", "ours", "params_m", "gain", "eff")


def _row(name, source, classes, *nums) -> dict:
    return {
        "name": name,
        "source": source,
        "classes": list(classes),
        "paper": dict(zip(_P, nums, strict=True)),
    }


def _cifar(classes: str, *nums) -> dict:
    names = [c.strip() for c in classes.split(",")]
    full = [CIFAR10_ALIASES.get(c, c) for c in names]
    return _row(", ".join(names), "cifar10", full, *nums)


# Tiny-ImageNet wnids (checked against the official 200-class wnids.txt; words as in words.txt).
_TINY = {
    "volleyball": "n04540053", "basketball": "n02802426",
    "espresso": "n07920052", "ice cream": "n07614500",
    "pop bottle": "n03983396", "beer bottle": "n02823428",  # pop bottle = "soda bottle"
    "bucket": "n02909870", "barrel": "n02795169",
    "seashore": "n09428293", "lakeside": "n09332890",
    "Egyptian cat": "n02124075", "Persian cat": "n02123394",
    "limousine": "n03670208", "sports car": "n04285008",
    "bullfrog": "n01641577", "tailed frog": "n01644900",
}  # fmt: skip

# The paper does not list these two (Table 3 gives only 6 classes / 3K train and 15 classes /
# 7.5K train). Our choice: dogs are the six dog breeds Tiny-ImageNet-200 holds, which is all of
# them. Vehicles are its fifteen land and water vehicles, which is all of them too; machines
# that are not vehicles (crane, lawn mower, cannon) are left out.
TINY_DOGS = [
    "n02085620",  # Chihuahua
    "n02094433",  # Yorkshire terrier
    "n02099601",  # golden retriever
    "n02099712",  # Labrador retriever
    "n02106662",  # German shepherd
    "n02113799",  # standard poodle
]
TINY_VEHICLES = [
    "n02814533",  # beach wagon (station wagon)
    "n02917067",  # bullet train
    "n03100240",  # convertible
    "n03393912",  # freight car
    "n03444034",  # go-kart
    "n03447447",  # gondola
    "n03599486",  # jinrikisha (rickshaw)
    "n03662601",  # lifeboat
    "n03670208",  # limousine
    "n03796401",  # moving van
    "n03977966",  # police van
    "n04146614",  # school bus
    "n04285008",  # sports car
    "n04465501",  # tractor
    "n04487081",  # trolleybus
]


def _tiny(name: str, a: str, b: str, *nums) -> dict:
    return _row(name, "tinyimagenet", [_TINY[a], _TINY[b]], *nums)


SUITE: list[dict] = [
    # Table 3, first column: ten 2-class CIFAR-10 subsets ("log, frog" in the paper is dog, frog)
    _cifar("airplane, auto", 99.25, 99.3, 99.45, 0.74, +0.15, 3.1),
    _cifar("auto, bird", 99.8, 99.75, 99.35, 0.13, -0.45, 17.6),
    _cifar("bird, cat", 95.15, 95.35, 95.1, 0.28, -0.25, 8.1),
    _cifar("cat, deer", 96.5, 96.55, 95.75, 0.15, -0.8, 14.9),
    _cifar("deer, dog", 96.8, 96.9, 96.9, 0.52, 0.0, 4.4),
    _cifar("dog, frog", 98.4, 98.55, 98.55, 0.18, 0.0, 12.5),
    _cifar("frog, horse", 99.15, 99.3, 98.6, 0.02, -0.7, 103.9),
    _cifar("horse, ship", 99.6, 99.55, 99.15, 0.11, -0.45, 20.1),
    _cifar("ship, truck", 98.65, 98.8, 98.55, 0.14, -0.25, 16.2),
    _cifar("truck, airplane", 98.35, 98.3, 98.15, 0.04, -0.2, 52.0),
    # second column: 3-, 4- and 5-class subsets
    _cifar("airplane, auto, bird", 97.86, 98.06, 97.79, 1.24, -0.27, 1.8),
    _cifar("bird, cat, deer", 95.06, 95.13, 93.9, 0.18, -1.23, 12.5),
    _cifar("deer, dog, frog", 96.56, 97.13, 96.79, 0.18, -0.34, 12.8),
    _cifar("frog, horse, ship", 99.0, 99.06, 99.0, 0.24, -0.06, 9.2),
    _cifar("ship, truck, airplane", 97.0, 96.93, 97.43, 0.22, +0.43, 10.6),
    _cifar("airplane, auto, bird, cat", 96.5, 96.55, 96.6, 3.72, +0.05, 0.6),
    _cifar("cat, deer, dog, frog", 92.95, 93.57, 93.0, 0.39, -0.57, 5.9),
    _cifar("frog, horse, ship, truck", 98.55, 98.85, 98.17, 0.83, -0.68, 2.8),
    _cifar("airplane, auto, bird, cat, deer", 95.34, 96.51, 95.37, 1.08, -1.14, 2.1),
    _cifar("dog, frog, horse, ship, truck", 97.51, 97.95, 98.0, 0.58, +0.05, 3.9),
    # full CIFAR-10 (Tables 2, 4 and 6)
    _row("CIFAR-10", "cifar10", CIFAR10_CLASSES, 94.04, 94.45, 94.73, 1.44, +0.29, 1.6),
    # third column: Tiny-ImageNet pairs, then dogs and vehicles
    _tiny("volleyball, basketball", "volleyball", "basketball", 86, 88, 87, 0.19, -1, 11.9),
    _tiny("espresso, ice cream", "espresso", "ice cream", 96, 97, 95, 0.26, -2, 8.9),
    _tiny("soda bottle, beer bottle", "pop bottle", "beer bottle", 74, 74, 76, 0.15, +2, 15.1),
    _tiny("bucket, barrel", "bucket", "barrel", 80, 77, 81, 0.05, +1, 44.4),
    _tiny("seashore, lakeside", "seashore", "lakeside", 81, 78, 82, 0.39, +1, 5.9),
    _tiny("Egyptian cat, Persian cat", "Egyptian cat", "Persian cat", 92, 86, 94, 0.42, +2, 5.5),
    _tiny("limousine, sports car", "limousine", "sports car", 93, 96, 94, 0.19, -2, 11.9),
    _tiny("bullfrog, tailed frog", "bullfrog", "tailed frog", 78, 79, 82, 0.23, +3, 10.1),
    _row("Tiny-ImageNet dogs", "tinyimagenet", TINY_DOGS, 71, 68, 68, 0.46, -3, 4.9),
    _row(
        "Tiny-ImageNet vehicles", "tinyimagenet", TINY_VEHICLES, 78.93, 78, 75.86, 0.26, -3.07, 8.7
    ),
]


def expected_split(entry: dict) -> tuple[int, int]:
    """The paper's train / test sizes for a suite entry (Table 3)."""
    per = CIFAR10_SPLIT if entry["source"] == "cifar10" else TINY_SPLIT
    n = len(entry["classes"])
    return per[0] * n, per[1] * n


def suite_plan(
    cifar_source: str | os.PathLike | None, tiny_source: str | os.PathLike | None
) -> Iterator[tuple[dict, Callable[[], ImageData]]]:
    """Yield (suite entry, derive) for each dataset; derive() makes its ImageData.

    CIFAR-10 is read once and shared by its 21 datasets. A source given as None skips its
    datasets (``missing_source_error`` words the message for them).
    """
    cifar: list[Cifar10] = []

    def cifar_data() -> Cifar10:
        if not cifar:
            cifar.append(read_cifar10(cifar_source))
        return cifar[0]

    for entry in SUITE:
        if entry["source"] == "cifar10" and cifar_source is not None:
            yield entry, (lambda e=entry: derive_cifar10(cifar_data(), e["classes"]))
        elif entry["source"] == "tinyimagenet" and tiny_source is not None:
            yield entry, (lambda e=entry: derive_tinyimagenet(tiny_source, e["classes"]))


def missing_source_error(kind: str, path: str | os.PathLike) -> DataError:
    """The DataError to show when the ``kind`` archive is not at ``path``."""
    return _missing(kind, Path(path))


# ----------------------------------------------------------------------------- Command line


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import sys

    ap = argparse.ArgumentParser(
        prog="python -m searchapp.nas.derived",
        description="Derive a dataset from CIFAR-10 or Tiny-ImageNet into an .npz.",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    for kind in ("cifar10", "tinyimagenet"):
        p = sub.add_parser(kind)
        p.add_argument("--classes", required=True, help="comma-separated class names")
        p.add_argument("--source", required=True, help=f"{SOURCES[kind]['file']} or its folder")
        p.add_argument("--out", required=True, help="output .npz")
    p = sub.add_parser("suite", help="derive the paper's suite into a folder of .npz files")
    p.add_argument("--cifar", help=f"{CIFAR10_FILE} or its folder")
    p.add_argument("--tiny", help=f"{TINY_FILE} or its folder")
    p.add_argument("--out", required=True, help="output folder")
    p = sub.add_parser("download", help="download an official archive into a folder")
    p.add_argument("kind", choices=list(SOURCES))
    p.add_argument("--to", required=True, help="folder")
    args = ap.parse_args(argv)
    try:
        start = time.perf_counter()
        if args.cmd in ("cifar10", "tinyimagenet"):
            fn = derive_cifar10 if args.cmd == "cifar10" else derive_tinyimagenet
            data = fn(args.source, args.classes.split(","))
            _save(data, Path(args.out))
            print(json.dumps({**data.summary(), "seconds": round(time.perf_counter() - start, 2)}))
        elif args.cmd == "suite":
            if not args.cifar and not args.tiny:
                raise DataError("give --cifar and/or --tiny")
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            for entry, derive in suite_plan(args.cifar, args.tiny):
                t0 = time.perf_counter()
                data = derive()
                slug = entry["name"].lower().replace(", ", "-").replace(" ", "_")
                _save(data, out / f"{slug}.npz")
                print(
                    f"{entry['name']:<34} train {len(data.y_train):>6} test {len(data.y_test):>5}"
                    f"  {time.perf_counter() - t0:6.1f}s",
                    flush=True,
                )
            print(f"total {time.perf_counter() - start:.1f}s")
        else:

            def show(done: int, total: int | None) -> None:
                of = f" of {total / 2**20:.1f}" if total else ""
                print(f"\r{done / 2**20:.1f}{of} MiB", end="", file=sys.stderr, flush=True)

            print(fetch(args.kind, args.to, show))
    except (DataError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _save(data: ImageData, out: Path) -> None:
    if out.suffix != ".npz":
        raise DataError(f"{out}: output must end in .npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    data.save_npz(out)


if __name__ == "__main__":
    raise SystemExit(main())
