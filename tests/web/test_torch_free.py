"""The web process never imports torch: pages, the form, the API and the socket stay light.

Run in a fresh interpreter (this test process has long imported torch for other tests): it
migrates a scratch database, signs in, renders the pages, validates and posts the search form
and the API, connects to the socket, and then checks sys.modules.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    import django
    django.setup()
    from django.conf import settings
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ALLOWED_HOSTS = ["testserver"]
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User
    from django.test import Client
    from channels.testing import WebsocketCommunicator
    from mininas_web.asgi import application
    from searchapp.models import Dataset, Search

    user = User.objects.create_user("alice", password="pw")
    ds = Dataset.objects.create(owner=user, name="pets", classes=["a", "b"], image_size=16)
    c = Client()
    c.force_login(user)
    for url in ["/datasets/", f"/datasets/{ds.pk}/", "/searches/new/", "/searches/"]:
        assert c.get(url).status_code == 200, url
    bad = c.post("/searches/new/", {"dataset": ds.pk, "min_depth": 9, "max_depth": 4})
    assert bad.status_code == 400
    r = c.post("/api/searches/", json.dumps({"dataset": ds.pk, "max_depth": 5}),
               content_type="application/json")
    assert r.status_code == 201, r.content
    search = Search.objects.get()
    assert c.get(f"/searches/{search.pk}/").status_code == 200
    assert c.get(f"/api/searches/{search.pk}/").status_code == 200

    async def socket():
        comm = WebsocketCommunicator(application, f"/ws/searches/{search.pk}/")
        comm.scope["user"] = user
        await comm.connect()
        await comm.disconnect()

    asyncio.run(socket())
    print("torch" in sys.modules)
    """
)


def test_pages_forms_api_and_socket_never_import_torch(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mininas_web.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens: the enqueue fails, quickly
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "False", "torch was imported"
