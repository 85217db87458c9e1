"""Dataset uploads: a folder sent in batches (with relative paths), or one zip.

Django strips folders from uploaded file names and refuses more than
DATA_UPLOAD_MAX_NUMBER_FILES files per request, so the browser sends the folder in batches
to an Upload and sends each file's webkitRelativePath alongside. `finish` validates every
image through the engine, packs them into one .npz and deletes the raw files. A zip is checked
by the engine's loader alone, under the limits `engine_limits` builds from settings.

Images are stored at a working resolution (DATASET_MAX_SIDE unless the upload asks for
another), within a budget of decoded pixels (DATASET_MAX_PIXELS) and the owner's storage
quota (USER_STORAGE_QUOTA_BYTES): all three are checked before anything is decoded.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from searchapp.nas.data import DataError, load_dataset
from searchapp.nas.files import human_bytes
from searchapp.nas.limits import MAX_WORKING_SIDE, MIN_SIDE, Limits

from .models import Dataset, Upload
from .storage import (
    check_storage_quota,
    create_dataset_from_imagedata,
    media_path,
    safe_relative_path,
    upload_dir,
    used_bytes,
)


class UploadError(ValueError):
    """A request we refuse, with a reason to show the user."""


def engine_limits(max_side: int | None = None) -> Limits:
    """The engine loader's limits, from the UPLOAD_* and DATASET_* settings; ``max_side`` is
    a working resolution the upload asked for (see `working_side`)."""
    return Limits(
        max_entries=settings.UPLOAD_MAX_ZIP_ENTRIES,
        max_unpacked_bytes=settings.UPLOAD_MAX_UNPACKED_BYTES,
        max_ratio=settings.UPLOAD_MAX_ZIP_RATIO,
        max_image_bytes=settings.UPLOAD_MAX_FILE_BYTES,
        max_side=max_side or settings.DATASET_MAX_SIDE,
        max_pixels=settings.DATASET_MAX_PIXELS,
    )


def working_side(raw=None) -> int:
    """The working resolution an upload asks for, in px (blank: DATASET_MAX_SIDE)."""
    if raw is None or str(raw).strip() == "":
        return settings.DATASET_MAX_SIDE
    try:
        side = int(str(raw).strip())
    except ValueError:
        raise UploadError(f"working resolution must be a number of pixels, got {str(raw)[:40]!r}")
    if not MIN_SIDE <= side <= MAX_WORKING_SIDE:
        raise UploadError(
            f"working resolution must be {MIN_SIDE} to {MAX_WORKING_SIDE} px, got {side}"
        )
    return side


def working_side_choices() -> list[int]:
    """The working resolutions the upload page offers: the default and a few larger ones."""
    return sorted({settings.DATASET_MAX_SIDE, 32, 64, 128, 256, MAX_WORKING_SIDE})


def start_upload(owner, name: str = "") -> Upload:
    purge_stale_uploads()
    upload = Upload.objects.create(owner=owner, name=name[:200])
    upload_dir(upload.pk).mkdir(parents=True, exist_ok=True)
    return upload


REJECTED_MAX_ENTRIES = 200
"""Refused files listed with their reasons; past this, one line says how many more there were."""
REJECTED_MAX_NAME = 300
"""Characters of a refused file's name that are kept (the middle is cut with an ellipsis)."""


def short_name(name: str, limit: int = REJECTED_MAX_NAME) -> str:
    """``name`` cut in the middle with an ellipsis when it is longer than ``limit``."""
    if len(name) <= limit:
        return name
    keep = limit - 1
    return name[: keep - keep // 3] + "…" + name[len(name) - keep // 3 :]


MORE = "…"
_MORE_REASON = re.compile(r"and (\d+) more files? refused")


def capped_rejected(entries) -> list[list[str]]:
    """At most REJECTED_MAX_ENTRIES [name, reason] pairs, names and reasons cut to size; the
    rest are counted in a last entry, so one upload cannot store megabytes of names."""
    kept, more = [], 0
    for name, reason in entries:
        counted = _MORE_REASON.fullmatch(str(reason)) if name == MORE else None
        if counted:  # the summary line of an earlier batch
            more += int(counted[1])
        elif len(kept) < REJECTED_MAX_ENTRIES:
            kept.append([short_name(str(name)), short_name(str(reason))])
        else:
            more += 1
    if more:
        kept.append([MORE, f"and {more} more file{'s' if more != 1 else ''} refused"])
    return kept


def _raw_usage(root: Path) -> tuple[int, int]:
    """(files, bytes) of an upload's raw files on disk: the truth its counters are set from."""
    files = total = 0
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
                files += 1
            except FileNotFoundError:
                pass
    return files, total


def add_files(upload: Upload, files: list, paths: list[str]) -> dict:
    """Store one batch. Files too large or with unsafe paths are refused with a reason.

    The upload's counters are read from the disk, so a path sent again is counted once, by its
    new size, and batches sent at once cannot pass the limits between them; its raw files count
    towards the owner's storage quota."""
    if len(files) != len(paths):
        raise UploadError(f"got {len(files)} files but {len(paths)} paths")
    root = upload_dir(upload.pk)
    root.mkdir(parents=True, exist_ok=True)
    count, used = _raw_usage(root)
    if count + len(files) > settings.UPLOAD_MAX_FILES:
        raise UploadError(f"an upload may hold at most {settings.UPLOAD_MAX_FILES} files")
    quota_left = settings.USER_STORAGE_QUOTA_BYTES - used_bytes(upload.owner)
    stored, refused = 0, []
    try:
        for f, raw_path in zip(files, paths, strict=True):
            try:
                rel = safe_relative_path(raw_path)
            except ValueError as exc:
                refused.append([str(raw_path), str(exc)])
                continue
            if f.size > settings.UPLOAD_MAX_FILE_BYTES:
                limit = human_bytes(settings.UPLOAD_MAX_FILE_BYTES)
                refused.append([rel, f"file larger than {limit}"])
                continue
            target = root / rel
            try:
                old = target.stat().st_size if target.is_file() else 0
            except OSError as exc:  # a name the file system cannot hold
                refused.append([rel, _unstorable_reason(exc)])
                continue
            if used - old + f.size > settings.UPLOAD_MAX_TOTAL_BYTES:
                raise UploadError(
                    f"an upload may hold at most {human_bytes(settings.UPLOAD_MAX_TOTAL_BYTES)}"
                )
            if f.size - old > quota_left:
                raise UploadError(
                    "these files would pass your storage quota of "
                    f"{human_bytes(settings.USER_STORAGE_QUOTA_BYTES)}: delete a dataset first"
                )
            try:
                _store(f, target)
            except OSError as exc:  # the name passed the checks but the file system refuses it
                refused.append([rel, _unstorable_reason(exc)])
                continue
            used += f.size - old
            quota_left -= f.size - old
            stored += 1
    finally:
        upload.files, upload.bytes = _raw_usage(root)
        upload.rejected = capped_rejected(list(upload.rejected) + refused)
        upload.save(update_fields=["files", "bytes", "rejected"])
    return {
        "stored": stored,
        "refused": capped_rejected(refused),
        "files": upload.files,
        "bytes": upload.bytes,
    }


def _store(f, target: Path) -> None:
    """Write an uploaded file at ``target``; a half-written file is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "wb") as out:
            for chunk in f.chunks():
                out.write(chunk)
    except OSError:
        with contextlib.suppress(OSError):
            if target.is_file():
                target.unlink()
        raise


def _unstorable_reason(exc: OSError) -> str:
    """Why a file could not be written, for the rejected list (never the server's path)."""
    if exc.errno == errno.ENAMETOOLONG:
        return "name too long for the file system"
    if exc.errno == errno.EISDIR:
        return "a folder of the same name was uploaded"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "one of its folders has the name of an uploaded file"
    return f"cannot be stored ({exc.strerror or 'file system error'})"


def finish_upload(upload: Upload, name: str, max_side: int | None = None) -> Dataset:
    """Validate and pack the uploaded folder into a Dataset; the upload is removed either way."""
    root = upload_dir(upload.pk)
    try:
        # the quota without this upload's own raw files, which are about to be packed
        used = used_bytes(upload.owner) - _raw_usage(root)[1]
        check_quota(upload.owner, used=used)
        if upload.files == 0:
            raise UploadError("no files were uploaded")
        data = _load(upload.owner, root, max_side, used=used)
        shutil.rmtree(root, ignore_errors=True)  # read: its raw files no longer count
        data.rejected = capped_rejected(list(upload.rejected) + list(data.rejected))
        dataset = _save(upload.owner, name or upload.name or "dataset", data, "folder upload")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        upload.delete()
    return dataset


def check_quota(owner, used: int | None = None) -> None:
    """UploadError when the owner is already at their storage quota."""
    try:
        check_storage_quota(owner, used=used)
    except DataError as exc:
        raise UploadError(str(exc)) from exc


def purge_stale_uploads() -> int:
    """Forget folder uploads abandoned for longer than UPLOAD_STALE_SECONDS (closed tabs)."""
    cutoff = timezone.now() - timedelta(seconds=settings.UPLOAD_STALE_SECONDS)
    stale = list(Upload.objects.filter(created__lt=cutoff))
    for upload in stale:
        shutil.rmtree(upload_dir(upload.pk), ignore_errors=True)
        upload.delete()
    return len(stale)


def dataset_from_zip(owner, name: str, uploaded, max_side: int | None = None) -> Dataset:
    """Validate and pack an uploaded zip into a Dataset (RequestSizeLimitMiddleware bounds it)."""
    tmp_root = media_path("uploads")
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        path = Path(tmp) / "upload.zip"
        with open(path, "wb") as out:
            for chunk in uploaded.chunks():
                out.write(chunk)
        data = _load(owner, path, max_side)  # the zip's directory is checked before unpacking
        data.rejected = capped_rejected(data.rejected)
        label = Path(getattr(uploaded, "name", "") or "upload.zip").name
        return _save(owner, name or Path(label).stem, data, label)


def _load(owner, path: Path, max_side: int | None, used: int | None = None):
    """Engine read with strict=False: bad files end up in `rejected`, fatal problems raise.

    A user already at their storage quota is refused before anything is read."""
    check_quota(owner, used=used)
    try:
        return load_dataset(path, strict=False, limits=engine_limits(max_side))
    except DataError as exc:
        raise UploadError(_without_local_path(str(exc), path)) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        # a zip entry that lies about its size or checksum fails while it is read
        raise UploadError(f"corrupt archive: {_without_local_path(str(exc), path)}") from exc


def _save(owner, name: str, data, source: str) -> Dataset:
    """The packed Dataset, or UploadError when it would not fit the owner's storage quota."""
    try:
        return create_dataset_from_imagedata(owner, name, data, source=source)
    except DataError as exc:
        raise UploadError(str(exc)) from exc


def _without_local_path(message: str, path: Path) -> str:
    """Engine messages start with the server path; users only need the reason."""
    for prefix in (f"{path}: ", f"{path}"):
        if message.startswith(prefix):
            return message[len(prefix) :] or message
    return message.replace(str(path), "upload")
