"""Fixtures for every layer: users alice and bob, a dataset, a search, and a real Redis.

tests/nas/ needs none of them (no Django); tests/web/ runs without live services (RQ points at
a closed port, so an accidental enqueue fails fast) unless a test is marked `live`; everything
under tests/live/ gets the session's real Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.builders import TINY_SEARCH, make_image_folder, make_imagedata

pytest_plugins = ["tests.web.tryit"]  # `onnx_bytes` and `finished` (a search with a model.onnx)
IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
TESTS = Path(__file__).parent
NO_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def pytest_collection_modifyitems(config, items):
    for item in items:
        if TESTS / "live" in item.path.parents:
            item.add_marker(pytest.mark.live)


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return make_image_folder(tmp_path / "upload" / "pets")


# ----------------------------------------------------------------------------- Redis, settings


@pytest.fixture(scope="session")
def redis_url():
    """A real redis-server for the whole session (TEST_REDIS_URL to use an existing one)."""
    from mininas_web.redis_server import RedisServer

    server = RedisServer(url=os.environ.get("TEST_REDIS_URL", ""))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(autouse=True)
def _web_settings(request, tmp_path):
    """Files under tmp_path, an in-memory channel layer, RQ on Redis only for live tests."""
    if TESTS / "nas" in request.node.path.parents:
        yield  # engine tests need no Django
        return
    settings = request.getfixturevalue("settings")
    live = request.node.get_closest_marker("live") is not None
    url = request.getfixturevalue("redis_url") if live else NO_REDIS
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REDIS_URL = url
    settings.RQ_QUEUES = {name: {**conf, "URL": url} for name, conf in settings.RQ_QUEUES.items()}
    settings.CHANNEL_LAYERS = IN_MEMORY_LAYER
    if live:
        import redis

        redis.Redis.from_url(url).flushdb()
    else:  # a fast hash for the users tests make (live servers in other processes check theirs)
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield


@pytest.fixture
def redis_layer(settings, redis_url):
    """Use channels_redis on the test Redis (crosses threads and processes, like production)."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # expiry: a test drains the group after a whole job (search + int8 exports) ran
            "CONFIG": {"hosts": [redis_url], "capacity": 1000, "expiry": 600},
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
def staff_client(db, django_user_model):
    """A signed-in staff user (sees the server's paths on the research pages)."""
    from django.test import Client

    root = django_user_model.objects.create_user("root", "root@example.org", "root-password")
    root.is_staff = True
    root.save()
    c = Client()
    c.force_login(root)
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
