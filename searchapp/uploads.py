"""Dataset uploads: a folder sent in batches (with relative paths), or one zip.

Django strips folders from uploaded file names and refuses more than
DATA_UPLOAD_MAX_NUMBER_FILES files per request, so the browser sends the folder in batches
to an Upload and sends each file's webkitRelativePath alongside.

No image is decoded in the web process. `finish_upload` (a folder) and `dataset_from_zip`
(a zip, streamed to disk) check only what is cheap: the owner's storage quota, how many of
their uploads are being packed (PACK_MAX_PER_USER, else 429), the file count and a zip's
central directory (entries, sizes, ratios, names). They move the raw files into the new
dataset's folder and return the Dataset at once, status "packing"; a job on a worker
(tasks/pack.py) decodes, checks and packs the images, at a working resolution
(DATASET_MAX_SIDE unless the upload asks for another), within a budget of decoded pixels
(DATASET_MAX_PIXELS) and the owner's storage quota (USER_STORAGE_QUOTA_BYTES).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from searchapp.nas.data import DataError
from searchapp.nas.files import human_bytes
from searchapp.nas.filetree import zip_tree
from searchapp.nas.limits import MAX_WORKING_SIDE, MIN_SIDE

from .models import Dataset, Upload
from .storage import (
    check_storage_quota,
    dataset_dir,
    media_path,
    safe_relative_path,
    upload_dir,
    used_bytes,
)
from .tasks.lifecycle import lock_user
from .tasks.packing import (  # noqa: F401 - REJECTED_*, short_name: the upload limits too
    REJECTED_MAX_ENTRIES,
    REJECTED_MAX_NAME,
    admit_packing,
    capped_rejected,
    engine_limits,
    raw_folder,
    raw_zip,
    short_name,
    without_local_path,
)


class UploadError(ValueError):
    """A request we refuse, with a reason to show the user."""


class TooManyPacking(UploadError):
    """The owner has PACK_MAX_PER_USER uploads packing already: waiting helps (429)."""

    status = 429
    setting = "PACK_MAX_PER_USER"


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
        rows = Upload.objects.filter(pk=upload.pk)
        if not rows.update(files=upload.files, bytes=upload.bytes, rejected=upload.rejected):
            shutil.rmtree(root, ignore_errors=True)  # finished or given up meanwhile
            raise UploadError("this upload is finished or was given up; start a new one")
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
    """Hand the uploaded folder to a packing job: the new Dataset, status "packing". The upload
    is gone afterwards, unless the owner has too many uploads packing (TooManyPacking: it is
    kept, to be finished later)."""
    check_packing_limit(upload.owner)
    root = upload_dir(upload.pk)
    if not Upload.objects.filter(pk=upload.pk).delete()[0]:  # the purge or another finish won
        raise UploadError("this upload was given up or finished already; upload the folder again")
    try:
        check_quota(upload.owner)  # its raw files no longer count: they are about to be packed
        if upload.files == 0:
            raise UploadError("no files were uploaded")
        return _hand_over(
            upload.owner,
            name or upload.name or "dataset",
            "folder upload",
            max_side,
            upload.rejected,
            lambda dataset_id: root.rename(raw_folder(dataset_id)),
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def check_packing_limit(owner) -> None:
    """TooManyPacking when the owner has PACK_MAX_PER_USER uploads packing or waiting."""
    count = Dataset.objects.filter(owner=owner, status=Dataset.Status.PACKING).count()
    limit = settings.PACK_MAX_PER_USER
    if count >= limit:
        raise TooManyPacking(
            f"you have {count} uploads being packed or waiting to be; at most {limit} per user "
            "(PACK_MAX_PER_USER): wait until one is ready, then upload again"
        )


def _hand_over(
    owner, name: str, source: str, max_side, rejected, move: Callable[[int], object]
) -> Dataset:
    """Create the packing Dataset, `move(its id)` the raw files into its folder, and admit it
    to the workers once committed. A failed move leaves no row and no files."""
    with transaction.atomic():
        lock_user(owner.pk)  # two uploads of one user cannot both pass the limit
        check_packing_limit(owner)
        dataset = Dataset.objects.create(
            owner=owner,
            name=name[:200],
            source=source[:500],
            status=Dataset.Status.PACKING,
            rejected=capped_rejected(rejected),
            packing={"max_side": max_side or settings.DATASET_MAX_SIDE},
        )
        folder = dataset_dir(dataset.pk)
        try:
            if folder.exists():  # left over from a rolled-back attempt with the same id
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            move(dataset.pk)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise UploadError(f"the upload could not be stored: {exc.strerror or exc}") from exc
    transaction.on_commit(admit_packing)
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
    purged = 0
    for upload in stale:
        if Upload.objects.filter(pk=upload.pk).delete()[0]:  # not finished meanwhile
            shutil.rmtree(upload_dir(upload.pk), ignore_errors=True)
            purged += 1
    return purged


def dataset_from_zip(owner, name: str, uploaded, max_side: int | None = None) -> Dataset:
    """Store the zip, check its central directory and hand it to a packing job: the new
    Dataset, status "packing" (RequestSizeLimitMiddleware bounds the zip)."""
    check_quota(owner)
    check_packing_limit(owner)
    tmp_root = media_path("uploads")
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        path = Path(tmp) / "upload.zip"
        _store(uploaded, path)
        check_zip(path, max_side)
        label = Path(getattr(uploaded, "name", "") or "upload.zip").name
        return _hand_over(
            owner,
            name or Path(label).stem,
            label,
            max_side,
            [],
            lambda dataset_id: path.rename(raw_zip(dataset_id)),
        )


def check_zip(path: Path, max_side: int | None = None) -> None:
    """UploadError unless the zip's central directory passes the limits (entries, declared
    sizes, ratios, unsafe names, links); nothing is decompressed."""
    try:
        with zip_tree(path, engine_limits(max_side)):
            pass
    except DataError as exc:
        raise UploadError(without_local_path(str(exc), path)) from exc
