"""Tiny generated image data and settings shared by every test layer.

Tests never read ../shared or data/: every image is generated here with PIL/numpy.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from searchapp.nas.data import ImageData

# Settings for a search that finishes in a few seconds on CPU (16x16 images, 2 classes).
TINY_SEARCH = {
    "min_depth": 3,
    "max_depth": 4,
    "min_width": 8,
    "max_width": 16,
    "width_step": 8,
    "ops": ["sep", "conv"],
    "kernels": [3],
    "epochs": 1,
    "seed": 0,
    "device": "cpu",
    "recipe": "fast",
    "folds": "1",  # one validation split: one training per candidate
}

# ----------------------------------------------------------------------------- images


def class_image(label: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """(size, size, 3) uint8: class 0 bright on the left, class 1 bright on the right, + noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 80, (size, size, 3)).astype(np.uint8)
    half = size // 2
    if label % 2:
        x[:, half:] += 150
    else:
        x[:, :half] += 150
    x[..., label % 3] = np.minimum(255, x[..., label % 3].astype(int) + 20).astype(np.uint8)
    return x


def png_bytes(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def make_image_folder(
    root: Path,
    classes=("cat", "dog"),
    per_class: int = 20,
    size: int = 16,
    split: bool = False,
    extras: dict[str, bytes] | None = None,
) -> Path:
    """Write <class>/<n>.png (or train/<class>/ + test/<class>/ when split) under root."""
    for c, name in enumerate(classes):
        for n in range(per_class):
            sub = ("train" if n % 5 else "test") if split else ""
            folder = root / sub / name if sub else root / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{n:03d}.png").write_bytes(
                png_bytes(class_image(c, size, seed=c * 1000 + n))
            )
    for rel, raw in (extras or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(raw)
    return root


def make_zip(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(folder).as_posix())
    return target


def solid_bmp_zip() -> bytes:
    """Six solid-colour 100x100 BMPs in two classes, deflated about 350:1 (small, not a bomb)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(6):
            cls, colour = ("red", (200, 0, 0)) if n < 3 else ("blue", (0, 0, 200))
            image = np.full((100, 100, 3), colour, np.uint8)
            zf.writestr(f"{cls}/{n}.bmp", png_bytes(image, "BMP"))
    return buf.getvalue()


def make_imagedata(classes=("cat", "dog"), per_class: int = 20, size: int = 16):
    xs, ys = [], []
    for c in range(len(classes)):
        for n in range(per_class):
            xs.append(class_image(c, size, seed=c * 1000 + n))
            ys.append(c)
    x, y = np.stack(xs), np.array(ys, dtype=np.int64)
    test = np.arange(len(y)) % 5 == 0
    return ImageData(x[~test], y[~test], x[test], y[test], list(classes), source="generated")


# ----------------------------------------------------------------------------- weights


def assert_same_weights(a: dict, b: dict, what: str = "weights differ") -> None:
    """Two state dicts hold equal tensors under the same names, and hold some."""
    import torch  # here, not at the top: web tests import this module without torch

    assert a, f"{what}: no weights to compare"
    assert a.keys() == b.keys(), f"{what}: names differ: {sorted(a.keys() ^ b.keys())}"
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"{what}: {differ[:5]}"


# ----------------------------------------------------------------------------- engine data


def pattern_images(n: int, size: int, label: int, rng: np.random.Generator) -> np.ndarray:
    """(n, size, size, 3) uint8 images whose class is visible: stripes whose direction is the label."""
    yy, xx = np.mgrid[0:size, 0:size]
    period = 4
    if label % 3 == 0:
        base = (yy // (period // 2)) % 2
    elif label % 3 == 1:
        base = (xx // (period // 2)) % 2
    else:
        base = ((xx + yy) // (period // 2)) % 2
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        colour = rng.integers(60, 255, size=3)
        noise = rng.normal(0, 20, size=(size, size, 3))
        img = base[..., None] * colour[None, None, :] + noise + 20
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def make_data(classes=("cat", "dog"), n_train=24, n_test=8, size=16, seed=0) -> ImageData:
    rng = np.random.default_rng(seed)
    xs, ys, xt, yt = [], [], [], []
    for c in range(len(classes)):
        xs.append(pattern_images(n_train, size, c, rng))
        ys += [c] * n_train
        xt.append(pattern_images(n_test, size, c, rng))
        yt += [c] * n_test
    return ImageData(
        np.concatenate(xs),
        np.array(ys, np.int64),
        np.concatenate(xt),
        np.array(yt, np.int64),
        list(classes),
    )


def write_folder(root: Path, data: ImageData, split: bool = True, fmt: str = "png") -> Path:
    """Write data as train/<class>/*.png (+ test/) or, with split=False, as <class>/*.png."""
    root.mkdir(parents=True, exist_ok=True)
    parts = [("train", data.x_train, data.y_train)]
    if split:
        parts.append(("test", data.x_test, data.y_test))
    for name, x, y in parts:
        for i, (img, label) in enumerate(zip(x, y, strict=True)):
            folder = root / name / data.classes[label] if split else root / data.classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{name}_{i:04d}.{fmt}")
    return root


def finish_with_weights(search, weights: dict[str, bytes]) -> None:
    """Mark a search finished with weight files ({"pt": b"...", "onnx": ...}) where the job
    writes them."""
    from searchapp.storage import search_dir

    folder = search_dir(search.pk)
    folder.mkdir(parents=True, exist_ok=True)
    for fmt, raw in weights.items():
        (folder / f"model.{fmt}").write_bytes(raw)
    search.status = "finished"
    search.outputs = {fmt: f"searches/{search.pk}/model.{fmt}" for fmt in weights}
    search.save()


# ----------------------------------------------------------------------------- web rows


def make_finished_search(owner, dataset, accs=(80.0, 85.0), *, depth=3, width=8, params=5000,
                         select_on="validation", final_acc=None, seconds=60.0):  # fmt: skip
    """A finished Search row of `owner` on `dataset` with one candidate per accuracy in
    `accs` (the first and the last accepted, the last the best; sep 3x3 layers of `depth` x
    `width`; each with a made-up 95% interval) and its final model's test accuracy when given. Needs Django set up (pytest-django, or `manage.py shell`)."""
    from datetime import timedelta

    from django.utils import timezone

    from searchapp.models import Candidate, Search

    now = timezone.now()
    arch = {"depth": depth, "width": width, "ops": ["sep"] * depth, "kernels": [3] * depth,
            "stem": "cifar"}  # fmt: skip
    s = Search.objects.create(
        owner=owner, dataset=dataset, settings={"select_on": select_on}, status="finished",
        started=now - timedelta(seconds=seconds), finished=now,
    )  # fmt: skip
    best = None
    for i, acc in enumerate(accs):
        best = Candidate.objects.create(
            search=s, index=i, phase="depth", arch=arch, params=params + 100 * i, macs=10 * params,
            test_acc=acc, status="ok", accepted=i in (0, len(accs) - 1), seconds=1.0,
            device="cpu", record={"test_ci95": [acc - 9.0, min(100.0, acc + 7.0)]},
        )  # fmt: skip
    s.best = best
    if final_acc is not None:
        s.final = {"test_acc": final_acc, "test_ci95": [final_acc - 5, final_acc + 3],
                   "epochs": 3, "recipe": "fast"}  # fmt: skip
    s.save()
    return s
