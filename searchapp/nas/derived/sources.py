"""Where the official CIFAR-10 and Tiny-ImageNet archives come from (name, URL, md5)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError

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
