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


def add_files(upload: Upload, files: list, paths: list[str]) -> dict:
    """Store one batch. Files too large or with unsafe paths are refused with a reason."""
    if len(files) != len(paths):
        raise UploadError(f"got {len(files)} files but {len(paths)} paths")
    if upload.files + len(files) > settings.UPLOAD_MAX_FILES:
        raise UploadError(f"an upload may hold at most {settings.UPLOAD_MAX_FILES} files")
    root = upload_dir(upload.pk)
    root.mkdir(parents=True, exist_ok=True)
    stored, refused = 0, []
    for f, raw_path in zip(files, paths, strict=True):
        try:
            rel = safe_relative_path(raw_path)
        except ValueError as exc:
            refused.append([str(raw_path)[:300], str(exc)])
            continue
        if f.size > settings.UPLOAD_MAX_FILE_BYTES:
            refused.append([rel, f"file larger than {human_bytes(settings.UPLOAD_MAX_FILE_BYTES)}"])
            continue
        if upload.bytes + f.size > settings.UPLOAD_MAX_TOTAL_BYTES:
            raise UploadError(
                f"an upload may hold at most {human_bytes(settings.UPLOAD_MAX_TOTAL_BYTES)}"
            )
        target = root / rel
        try:
            is_new = not target.exists()
            _store(f, target)
        except OSError as exc:  # the name passed the checks but the file system refuses it
            refused.append([rel, _unstorable_reason(exc)])
            continue
        if is_new:
            upload.files += 1
            upload.bytes += f.size
        stored += 1
    upload.rejected = list(upload.rejected) + refused
    upload.save(update_fields=["files", "bytes", "rejected"])
    return {"stored": stored, "refused": refused, "files": upload.files, "bytes": upload.bytes}


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
        if upload.files == 0:
            raise UploadError("no files were uploaded")
        data = _load(upload.owner, root, max_side)
        data.rejected = [tuple(r) for r in upload.rejected] + list(data.rejected)
        dataset = _save(upload.owner, name or upload.name or "dataset", data, "folder upload")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        upload.delete()
    return dataset


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
        label = Path(getattr(uploaded, "name", "") or "upload.zip").name
        return _save(owner, name or Path(label).stem, data, label)


def _load(owner, path: Path, max_side: int | None):
    """Engine read with strict=False: bad files end up in `rejected`, fatal problems raise.

    A user already at their storage quota is refused before anything is read."""
    try:
        check_storage_quota(owner)
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
