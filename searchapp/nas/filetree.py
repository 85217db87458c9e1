"""A folder or a zip as one read-only tree of files, named by relative posix path.

The zip's central directory is checked against ``Limits`` before anything is decompressed:
entry count, declared total size, each large entry's compression ratio, unsafe names and
symbolic links. Nested archives are never opened, so a zip inside a zip is just a file.
Dot-files, ``__MACOSX`` and (in folders) symbolic links are left out.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from .errors import DataError
from .files import human_bytes
from .limits import Limits


def unsafe_name(name: str) -> bool:
    """Whether a relative name leaves its root: absolute, ``..``, a drive letter, a backslash."""
    parts = PurePosixPath(name).parts
    return name.startswith("/") or "\\" in name or ".." in parts or bool(parts and ":" in parts[0])


class FileTree:
    """Sorted file ``names`` and folder ``dirs`` of a folder or zip; ``read`` gives bytes,
    ``size`` the size on disk or declared in the zip (``read`` is what bounds it).

    Reads of a zip entry that lies about its size or checksum raise what zipfile raises
    (BadZipFile, zlib.error, EOFError): callers refuse such an archive as a whole.
    """

    def __init__(
        self,
        source: str,
        names: list[str],
        dirs: list[str],
        reader: Callable[[str, int], bytes],
        sizer: Callable[[str], int],
        close: Callable[[], None] = lambda: None,
    ):
        self.source, self.names, self.dirs = source, names, dirs
        self._known = set(names)
        self._reader, self._sizer, self.close = reader, sizer, close

    def __contains__(self, name: str) -> bool:
        return name in self._known

    def __enter__(self) -> FileTree:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, name: str, limit: int) -> bytes:
        """At most ``limit + 1`` bytes of ``name``: more than ``limit`` means it is too large."""
        if name not in self._known:
            raise DataError(f"{self.source}: no {name} inside")
        return self._reader(name, limit)

    def size(self, name: str) -> int:
        if name not in self._known:
            raise DataError(f"{self.source}: no {name} inside")
        return self._sizer(name)


def folder_tree(root: Path) -> FileTree:
    """Every file under ``root``, sorted, without dot-files or symbolic links."""
    names, dirs = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        dirs += [(Path(dirpath) / d).relative_to(root).as_posix() for d in dirnames]
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if not f.startswith(".") and not p.is_symlink():
                names.append(p.relative_to(root).as_posix())

    def read(name: str, limit: int) -> bytes:
        with open(root / name, "rb") as f:
            return f.read(limit + 1)

    return FileTree(str(root), names, dirs, read, lambda name: (root / name).stat().st_size)


def zip_tree(path: Path, limits: Limits = Limits()) -> FileTree:
    """The files of a zip, once its central directory passes ``limits``; DataError if not."""
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: not a readable zip file, or truncated ({exc})") from exc
    try:
        by_name, dirs = _check_directory(path, infos, limits)
    except DataError:
        zf.close()
        raise

    def read(name: str, limit: int) -> bytes:
        with zf.open(by_name[name]) as f:
            return f.read(limit + 1)

    return FileTree(
        str(path), sorted(by_name), dirs, read, lambda name: by_name[name].file_size, zf.close
    )


def _check_directory(
    path: Path, infos: list[zipfile.ZipInfo], limits: Limits
) -> tuple[dict[str, zipfile.ZipInfo], list[str]]:
    if len(infos) > limits.max_entries:
        raise DataError(
            f"{path}: the zip has {len(infos):,} entries; at most {limits.max_entries:,} are allowed"
        )
    total, by_name, dirs = 0, {}, []
    for info in infos:
        name = info.filename.replace("\\", "/")
        if info.is_dir():
            dirs.append(name.rstrip("/"))
            continue
        if unsafe_name(name):
            raise DataError(f"{path}: unsafe entry name {info.filename[:200]!r}")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise DataError(f"{path}: entry {info.filename[:200]!r} is a symbolic link")
        total += info.file_size
        if total > limits.max_unpacked_bytes:
            raise DataError(
                f"{path}: the zip unpacks to more than {human_bytes(limits.max_unpacked_bytes)}"
            )
        if info.file_size >= limits.ratio_min_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise DataError(
                    f"{path}: entry {info.filename[:200]!r} is compressed {ratio:.0f}:1, more "
                    f"than {limits.max_ratio}:1 (a zip bomb?)"
                )
        if not any(p.startswith(".") or p == "__MACOSX" for p in PurePosixPath(name).parts):
            by_name[name] = info
    return by_name, dirs
