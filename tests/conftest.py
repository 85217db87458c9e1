"""Shared fixtures: users alice and bob, tiny generated image data, a real Redis for the session.

Tests never read /work/shared or data/: every image is generated here with PIL/numpy.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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
}

IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


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


def make_imagedata(classes=("cat", "dog"), per_class: int = 20, size: int = 16):
    from searchapp.nas.data import ImageData

    xs, ys = [], []
    for c in range(len(classes)):
        for n in range(per_class):
            xs.append(class_image(c, size, seed=c * 1000 + n))
            ys.append(c)
    x, y = np.stack(xs), np.array(ys, dtype=np.int64)
    test = np.arange(len(y)) % 5 == 0
    return ImageData(x[~test], y[~test], x[test], y[test], list(classes), source="generated")


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return make_image_folder(tmp_path / "upload" / "pets")


# ----------------------------------------------------------------------------- Redis, settings


@pytest.fixture(scope="session")
def redis_url():
    """A real redis-server for the whole session (TEST_REDIS_URL to use an existing one)."""
    from searchapp.redis_server import RedisServer

    server = RedisServer(url=os.environ.get("TEST_REDIS_URL", ""))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(autouse=True)
def _web_settings(request, tmp_path):
    """Files under tmp_path; RQ on the session's Redis; an in-memory channel layer."""
    if request.node.path.name.startswith("test_nas_"):
        yield  # engine tests need no Django
        return
    settings = request.getfixturevalue("settings")
    url = request.getfixturevalue("redis_url")
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REDIS_URL = url
    settings.RQ_QUEUES = {"gpu": {"URL": url, "DEFAULT_TIMEOUT": 3600}}
    settings.CHANNEL_LAYERS = IN_MEMORY_LAYER
    import redis

    redis.Redis.from_url(url).flushdb()
    yield


@pytest.fixture
def redis_layer(settings, redis_url):
    """Use channels_redis on the test Redis (crosses threads and processes, like production)."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "capacity": 1000, "expiry": 60},
        }
    }
    return settings.CHANNEL_LAYERS


# ----------------------------------------------------------------------------- users, data


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.org", "alice-password")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.org", "bob-password")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(db, bob):
    from django.test import Client

    c = Client()
    c.force_login(bob)
    return c


@pytest.fixture
def dataset(alice):
    from searchapp.storage import create_dataset_from_imagedata

    return create_dataset_from_imagedata(alice, "pets", make_imagedata(), source="generated")


@pytest.fixture
def search(alice, dataset):
    from searchapp.models import Search
    from searchapp.nas.search import SearchConfig

    settings = SearchConfig.from_dict(TINY_SEARCH).to_dict()
    return Search.objects.create(owner=alice, dataset=dataset, settings=settings)
