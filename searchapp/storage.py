"""Files on disk: packed datasets, their thumbnails, folder uploads in progress, search outputs.

Everything lives under MEDIA_ROOT and is served only through views that check the owner:
  datasets/<id>/data.npz          the packed uint8 arrays (the only copy of the images we trust)
  datasets/<id>/thumbs/<c>_<n>.png sample thumbnails per class
  uploads/<uuid>/<relative path>  raw files of a folder upload, deleted once packed
  searches/<id>/                  result.json, model.pt, model.onnx
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image

from .models import Dataset

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
        if p == ".." or "\x00" in p or len(p) > 255:
            raise ValueError(f"unsafe path {raw!r}")
    if len(parts) > 16:
        raise ValueError(f"path too deep {raw!r}")
    return "/".join(parts)


def create_dataset_from_imagedata(owner, name: str, data, source: str) -> Dataset:
    """Save `data` (an engine ImageData) as a new Dataset: the row, data.npz and thumbnails.

    Either all of it exists afterwards or none of it (the row is rolled back and the folder
    removed on any error).
    """
    folder = None
    try:
        with transaction.atomic():
            summary = data.summary()
            dataset = Dataset.objects.create(
                owner=owner,
                name=name[:200],
                source=source[:500],
                classes=list(data.classes),
                counts=summary["counts"],
                image_size=data.image_size,
                num_train=summary["train"],
                num_test=summary["test"],
                rejected=[[str(p), str(r)] for p, r in data.rejected],
            )
            folder = dataset_dir(dataset.pk)
            if folder.exists():  # left over from a rolled-back attempt with the same id
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            data.save_npz(folder / "data.npz")
            write_thumbnails(data, folder / "thumbs")
            dataset.npz_path = f"datasets/{dataset.pk}/data.npz"
            dataset.save(update_fields=["npz_path"])
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return dataset


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
