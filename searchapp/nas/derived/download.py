"""Downloading the official archives: torchvision's download and checksum utilities.

Only the command line imports this module (it imports torch through torchvision); the web
process reads the sources table and never does.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

from ..errors import DataError
from ..files import atomic_path
from .sources import SOURCES


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
