"""Where the official CIFAR-10 and Tiny-ImageNet archives come from, and fetching them.

Download and checksum are torchvision's (imported only when downloading: the web process,
which reads this table, never imports torch).
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

from ..errors import DataError
from ..files import atomic_path

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


def missing_source_error(kind: str, path: str | os.PathLike) -> DataError:
    """The DataError to show when the ``kind`` archive is not at ``path``."""
    s = SOURCES[kind]
    return DataError(
        f"{path}: not found; place {s['file']} (or its extracted {s['dir']}/ folder) there, "
        f"downloaded from {s['url']} (md5 {s['md5']})"
    )


def resolve_source(kind: str, source: str | os.PathLike) -> Path:
    """The archive or folder to read: the path itself, or the official name inside a folder."""
    p = Path(source)
    s = SOURCES[kind]
    if not p.exists():
        raise missing_source_error(kind, p)
    if p.is_dir():
        for cand in (p / s["dir"], p / s["file"]):
            if cand.exists():
                return cand
    return p


def download(url: str, dest: str | os.PathLike, md5: str) -> Path:
    """Download ``url`` to ``dest`` through a temporary file that is renamed once its md5 matches.

    On a failed transfer or a checksum mismatch nothing is left behind and DataError says why.
    """
    from torchvision.datasets.utils import calculate_md5, download_url

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        try:
            download_url(url, tmp.parent, tmp.name, md5=md5)
        except RecursionError as exc:  # too many redirects (a RuntimeError too)
            raise DataError(f"could not download {url} ({exc}); place the file at {dest}") from exc
        except RuntimeError as exc:  # torchvision: "File not found or corrupted."
            got = calculate_md5(tmp) if tmp.is_file() else "no file"
            raise DataError(
                f"{url}: checksum mismatch (md5 expected {md5}, got {got}); download deleted"
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DataError(
                f"could not download {url} ({getattr(exc, 'reason', exc)}); "
                f"place the file at {dest}"
            ) from exc
    return dest


def fetch(kind: str, folder: str | os.PathLike) -> Path:
    """The official archive in ``folder`` (or its extracted folder), downloaded if missing."""
    if kind not in SOURCES:
        raise ValueError(f"unknown source {kind!r} (expected one of {', '.join(SOURCES)})")
    s = SOURCES[kind]
    folder = Path(folder)
    for cand in (folder / s["file"], folder / s["dir"]):
        if cand.exists():
            return cand
    try:
        return download(s["url"], folder / s["file"], s["md5"])
    except DataError as exc:
        raise DataError(f"{exc}; get it from {s['url']} (md5 {s['md5']})") from exc
