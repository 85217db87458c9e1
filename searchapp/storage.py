"""Files on disk: packed datasets, their thumbnails, folder uploads in progress, search outputs.

Everything lives under MEDIA_ROOT and is served only through views that check the owner:
  datasets/<id>/data.npz          the packed uint8 arrays (the only copy of the images we trust)
  datasets/<id>/thumbs/<c>_<n>.png sample thumbnails per class
  datasets/<id>/raw/ or raw.zip    an upload's raw files while it is packed (tasks/pack.py)
  uploads/<uuid>/<relative path>  raw files of a folder upload until it is finished
  searches/<id>/                  result.json, model.pt, model.onnx
  searches/<id>/mistakes/<i>.png  the final model's misclassified test images, written by its job

A user's datasets may take at most USER_STORAGE_QUOTA_BYTES on disk (`used_bytes`,
`check_storage_quota`): checked before an upload is decoded and again once it is packed.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path, PurePosixPath

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image

from searchapp.nas.errors import DataError
from searchapp.nas.files import atomic_path, human_bytes

from .models import Dataset, Upload

NAME_MAX = 255  # bytes of one file or folder name on Linux file systems
THUMBS_PER_CLASS = 8
THUMB_MIN_SIDE = 32  # tiny images are scaled up (nearest) so a thumbnail is visible


def media_path(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


def dataset_dir(dataset_id: int) -> Path:
    return media_path(f"datasets/{dataset_id}")


def upload_dir(upload_id) -> Path:
    return media_path(f"uploads/{upload_id}")


def search_dir(search_id: int) -> Path:
    return media_path(f"searches/{search_id}")


class QuotaError(DataError):
    """The owner's datasets would take more disk than USER_STORAGE_QUOTA_BYTES."""


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 when it does not exist); links are not followed."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except FileNotFoundError:  # removed while we walked
                pass
    return total


def used_bytes(user) -> int:
    """Bytes on disk of the user's datasets (packed arrays and thumbnails) and of the raw files
    of their unfinished folder uploads."""
    ids = Dataset.objects.filter(owner=user).values_list("pk", flat=True)
    uploads = Upload.objects.filter(owner=user).values_list("pk", flat=True)
    return sum(folder_bytes(dataset_dir(pk)) for pk in ids) + sum(
        folder_bytes(upload_dir(pk)) for pk in uploads
    )


def check_storage_quota(user, adding: int = 0, *, used: int | None = None) -> None:
    """QuotaError when the user's datasets, plus ``adding`` bytes, pass their storage quota.

    With ``adding`` 0 it refuses only a user already at the quota (before any big work).
    """
    quota = settings.USER_STORAGE_QUOTA_BYTES
    used = used_bytes(user) if used is None else used
    if not (used + adding > quota if adding else used >= quota):
        return
    if adding:
        raise QuotaError(
            f"this dataset takes {human_bytes(adding)} on disk; with the "
            f"{human_bytes(used)} your datasets already use that is over your storage "
            f"quota of {human_bytes(quota)}: delete a dataset first"
        )
    raise QuotaError(
        f"your datasets already use {human_bytes(used)} of your storage quota of "
        f"{human_bytes(quota)}: delete a dataset first"
    )


def safe_relative_path(raw: str) -> str:
    """A cleaned relative posix path, or ValueError for absolute paths, `..` and odd names."""
    name = (raw or "").replace("\\", "/").strip()
    if not name:
        raise ValueError("empty path")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"absolute path {raw!r}")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts:
        raise ValueError(f"empty path {raw!r}")
    for p in parts:
        if p == ".." or "\x00" in p:
            raise ValueError(f"unsafe path {raw!r}")
        try:
            size = len(p.encode())
        except UnicodeEncodeError:  # a lone surrogate from JSON: no file can have that name
            raise ValueError(f"name is not valid text {raw!r}") from None
        if size > NAME_MAX:
            raise ValueError(f"name longer than {NAME_MAX} bytes {raw[:100]!r}…")
    if len(parts) > 16:
        raise ValueError(f"path too deep {raw!r}")
    return "/".join(parts)


def create_dataset_from_imagedata(owner, name: str, data, source: str) -> Dataset:
    """Save `data` (an engine ImageData) as a new Dataset: the row, data.npz and thumbnails.

    Either all of it exists afterwards or none of it (the row is rolled back and the folder
    removed on any error, QuotaError included: the owner's quota is checked once the files
    are written, against their real size).
    """
    folder = None
    try:
        used = used_bytes(owner)
        with transaction.atomic():
            dataset = Dataset.objects.create(
                owner=owner, name=name[:200], source=source[:500], **imagedata_fields(data)
            )
            folder = dataset_dir(dataset.pk)
            if folder.exists():  # left over from a rolled-back attempt with the same id
                shutil.rmtree(folder)
            dataset.npz_path = write_packed(folder, data)
            check_storage_quota(owner, folder_bytes(folder), used=used)
            dataset.save(update_fields=["npz_path"])
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return dataset


def imagedata_fields(data) -> dict:
    """The Dataset fields that describe `data` (an engine ImageData): classes, counts, sizes,
    rejected and resized files."""
    summary = data.summary()
    return {
        "classes": list(data.classes),
        "counts": summary["counts"],
        "image_size": data.image_size,
        "num_train": summary["train"],
        "num_test": summary["test"],
        "rejected": [[str(p), str(r)] for p, r in data.rejected],
        "resized": {"count": data.resized, "from": data.resized_from} if data.resized else {},
    }


def write_packed(folder: Path, data) -> str:
    """Write `data` as folder/data.npz and its thumbnails (the folder is made if missing);
    returns data.npz's path relative to MEDIA_ROOT (Dataset.npz_path)."""
    folder.mkdir(parents=True, exist_ok=True)
    data.save_npz(folder / "data.npz")
    write_thumbnails(data, folder / "thumbs")
    return (folder / "data.npz").relative_to(settings.MEDIA_ROOT).as_posix()


def write_thumbnails(data, folder: Path) -> None:
    """PNG samples of each class: thumbs/<class index>_<n>.png (train images first)."""
    folder.mkdir(parents=True, exist_ok=True)
    scale = max(1, -(-THUMB_MIN_SIDE // max(1, data.image_size)))
    for c in range(len(data.classes)):
        picks = list(np.flatnonzero(data.y_train == c)[:THUMBS_PER_CLASS])
        for n, i in enumerate(picks):
            im = Image.fromarray(data.x_train[i])
            if scale > 1:
                im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
            im.save(folder / f"{c}_{n}.png", optimize=True)


def thumbnails(dataset: Dataset) -> list[dict]:
    """Per class: name, counts and the thumbnail names that exist on disk."""
    folder = dataset_dir(dataset.pk) / "thumbs"
    rows = []
    for c, cls in enumerate(dataset.classes):
        names = []
        for n in range(THUMBS_PER_CLASS):
            if (folder / f"{c}_{n}.png").exists():
                names.append(f"{c}_{n}")
        counts = dataset.counts.get(cls, {})
        rows.append(
            {
                "name": cls,
                "train": counts.get("train", 0),
                "test": counts.get("test", 0),
                "thumbs": names,
            }
        )
    return rows


def thumbnail_path(dataset: Dataset, name: str) -> Path | None:
    """The dataset's thumbnail `name` (`<class index>_<n>`), or None when there is none."""
    path = dataset_dir(dataset.pk) / "thumbs" / f"{name}.png"
    return path if path.is_file() else None


TEST_IMAGE_MIN_SIDE = 64  # smaller test images are scaled up (nearest) so a mistake is visible


def mistakes_dir(search_id: int) -> Path:
    """searches/<id>/mistakes/: <test index>.png of each of the final model's mistakes."""
    return search_dir(search_id) / "mistakes"


def png_of_image(img: np.ndarray) -> bytes:
    """One (H, W, C), (C, H, W) or (H, W) uint8 image as PNG bytes, scaled up (nearest) if tiny."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)  # stored NCHW
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    im = Image.fromarray(img)
    if max(im.size) < TEST_IMAGE_MIN_SIDE:
        im = im.resize((TEST_IMAGE_MIN_SIDE, TEST_IMAGE_MIN_SIDE), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def write_mistake_images(search_id: int, x_test: np.ndarray, indices) -> int:
    """Write test images ``indices`` of ``x_test`` (the split the final model was scored on)
    as mistakes/<index>.png, each atomically; out-of-range indices are skipped. Returns how
    many were written. The job that finishes a search calls this (it holds the test split
    already), so the web process serves files and never loads a split."""
    folder = mistakes_dir(search_id)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for i in dict.fromkeys(int(i) for i in indices):
        if 0 <= i < len(x_test):
            with atomic_path(folder / f"{i}.png") as tmp:
                tmp.write_bytes(png_of_image(x_test[i]))
            written += 1
    return written


def has_mistake_images(search_id: int) -> bool:
    return mistakes_dir(search_id).is_dir()


def mistake_image_path(search_id: int, index: int) -> Path | None:
    """The PNG of test image ``index`` among the search's saved mistakes; None when absent."""
    path = mistakes_dir(search_id) / f"{int(index)}.png"
    return path if path.is_file() else None
