"""Datasets derived from CIFAR-10 / Tiny-ImageNet, and the paper's suite, on the web side.

The archives live in one server folder (settings.DERIVED_SOURCES_DIR, default
MEDIA_ROOT/../sources): users pick what is there, they never type a server path. The engine
(searchapp.nas.derived) reads them; this module turns its ImageData into Datasets (the suite
job, searchapp.tasks.suite, calls it once per entry). Torch is never imported here.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from searchapp.nas.data import DataError
from searchapp.nas.derived import (
    SOURCES,
    SUITE,
    expected_split,
    missing_source_error,
)

from .models import Dataset, Search
from .storage import create_dataset_from_imagedata

KIND_LABELS = {"cifar10": "CIFAR-10", "tinyimagenet": "Tiny-ImageNet"}
UPSCALE_STEM = "imagenet"  # the stem that upscales to 224 (searchapp.nas.space)
# Searches on these derived datasets default to the imagenet stem, as in the paper.
DEFAULT_STEM = {"cifar10": "", "tinyimagenet": UPSCALE_STEM}


def sources_dir() -> Path:
    """The server folder that holds the official archives."""
    return Path(settings.DERIVED_SOURCES_DIR)


def source_path(kind: str) -> Path | None:
    """The archive (or extracted folder) of ``kind`` in the sources folder; None if absent."""
    s = SOURCES[kind]
    folder = sources_dir()
    for name in (s["file"], s["dir"]):
        if (folder / name).exists():
            return folder / name
    return None


def source_status() -> list[dict]:
    """Per kind: whether its archive is there, and if not, what to place where."""
    rows = []
    for kind, s in SOURCES.items():
        path = source_path(kind)
        rows.append(
            {
                "kind": kind,
                "label": KIND_LABELS[kind],
                "file": s["file"],
                "dir": s["dir"],
                "path": str(path) if path else "",
                "found": path is not None,
                "message": "" if path else str(missing_source_error(kind, sources_dir())),
            }
        )
    return rows


def found_files() -> list[str]:
    """Names of the entries in the sources folder (what the page lists)."""
    folder = sources_dir()
    if not folder.is_dir():
        return []
    return sorted(
        p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if p.name[:1] != "."
    )


def resolve_source(kind: str) -> Path:
    """The archive of ``kind``, or DataError naming the file to place and where."""
    if kind not in SOURCES:
        raise DataError(f"unknown source kind {kind!r} (expected cifar10 or tinyimagenet)")
    path = source_path(kind)
    if path is None:
        raise missing_source_error(kind, sources_dir())
    return path


def derive_imagedata(kind: str, classes: list[str], source: str | os.PathLike):
    """The engine's ImageData for ``classes`` of ``kind`` (DataError on bad input)."""
    from searchapp.nas.derived import derive_cifar10, derive_tinyimagenet

    if kind == "cifar10":
        return derive_cifar10(source, classes)
    if kind == "tinyimagenet":
        return derive_tinyimagenet(source, classes)
    raise DataError(f"unknown source kind {kind!r} (expected cifar10 or tinyimagenet)")


def matching_entry(kind: str, data) -> str:
    """The name of the suite entry with exactly these classes, or ""."""
    if kind == "tinyimagenet":  # source is "tinyimagenet:<path>:<wnid>,<wnid>,..."
        picked = set(data.source.rsplit(":", 1)[-1].split(","))
    else:
        picked = set(data.classes)
    for entry in SUITE:
        if entry["source"] == kind and set(entry["classes"]) == picked:
            return entry["name"]
    return ""


def default_name(kind: str, class_names: list[str]) -> str:
    return f"{KIND_LABELS[kind]}: {', '.join(class_names)}"[:200]


def create_derived_dataset(
    owner,
    kind: str,
    classes: list[str],
    source: str | os.PathLike,
    *,
    name: str = "",
    upscale: bool | None = None,
    suite: str = "",
    data=None,
) -> Dataset:
    """Derive and save a Dataset; all of it or nothing (DataError on bad input).

    ``upscale`` None means the kind's default (on for Tiny-ImageNet, as in the paper).
    ``data`` is the engine's ImageData when it is already derived (the suite plan's).
    """
    if data is None:
        data = derive_imagedata(kind, classes, source)
    if upscale is None:
        stem = DEFAULT_STEM[kind]
    else:
        stem = UPSCALE_STEM if upscale else ""
    if not suite and stem == DEFAULT_STEM[kind]:
        # the same classes as a suite entry the owner lacks: it is that entry (no duplicate)
        entry = matching_entry(kind, data)
        if entry and not Dataset.objects.filter(owner=owner, suite=entry).exists():
            suite = entry
    with transaction.atomic():
        dataset = create_dataset_from_imagedata(
            owner, name or default_name(kind, data.classes), data, source=data.source
        )
        dataset.derived = {"kind": kind, "classes": [str(c).strip() for c in classes]}
        dataset.suite = suite
        dataset.stem = stem
        dataset.save(update_fields=["derived", "suite", "stem"])
    return dataset


# ----------------------------------------------------------------------------- the suite


def suite_rows(owner) -> list[dict]:
    """The 31 suite entries with their statistics and the owner's dataset / latest search."""
    datasets = {}
    for d in Dataset.objects.filter(owner=owner).exclude(suite="").order_by("created", "id"):
        datasets.setdefault(d.suite, d)  # the first one made is the suite's
    latest = {}
    searches = Search.objects.filter(owner=owner, dataset__in=list(datasets.values()))
    for s in searches.order_by("created", "id"):
        latest[s.dataset_id] = s
    found = {kind: source_path(kind) is not None for kind in SOURCES}
    rows = []
    for n, entry in enumerate(SUITE, 1):
        train, test = expected_split(entry)
        d = datasets.get(entry["name"])
        rows.append(
            {
                "n": n,
                "name": entry["name"],
                "source": entry["source"],
                "source_label": KIND_LABELS[entry["source"]],
                "source_found": found[entry["source"]],
                "num_classes": len(entry["classes"]),
                "classes": entry["classes"],
                "train": d.num_train if d else train,
                "test": d.num_test if d else test,
                "paper_train": train,
                "paper_test": test,
                "image_size": d.image_size if d else (32 if entry["source"] == "cifar10" else 64),
                "stem": d.stem if d else DEFAULT_STEM[entry["source"]],
                "dataset": d,
                "search": latest.get(d.pk) if d else None,
                "paper": entry["paper"],
            }
        )
    return rows
