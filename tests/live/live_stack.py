"""The real stack in subprocesses, for browser checks: Redis, the web server (Uvicorn), one RQ
worker, and a SQLite file of its own, plus the Chromium helpers that drive it.

Used by tests/live/test_browser.py, test_request_limits.py and bench/. Nothing here touches the ORM
in this process, so pytest-django's test database is never involved.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from mininas_web.launcher import Stack
from mininas_web.redis_server import free_port

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextmanager
def live_stack(root: Path, worker: bool = True, **env: str) -> Iterator[Stack]:
    """Start everything with its files under `root` (db.sqlite3, media/, log/, redis/).

    `env` adds settings for the children (e.g. REQUEST_MAX_BYTES="65536").
    """
    root.mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
        "MEDIA_ROOT": str(root / "media"),
        "REDIS_URL": "",  # a Redis of its own, never the developer's
        "DEBUG": "1",
        "SERVE_STATIC": "1",
        **env,
    }
    stack = Stack(
        log_dir=root / "log", port=free_port(), env=env, redis_dir=root / "redis", worker=worker
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def create_user(stack: Stack, username: str, password: str) -> None:
    stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, password={password!r})",
    )


SESSION = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
u = get_user_model().objects.get(username=USERNAME)
store = SessionStore()
store[SESSION_KEY] = str(u.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = u.get_session_auth_hash()
store.create()
print(store.session_key)
"""


def session_for(stack: Stack, username: str) -> str:
    """A signed-in session of `username` in the stack's database: the sessionid cookie's value."""
    out = stack.manage("shell", "-c", SESSION.replace("USERNAME", repr(username)))
    return out.strip().splitlines()[-1]


def launch_chromium(playwright):
    """Debian's Chromium; Playwright never downloads a browser here."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def upload_folder(page, base_url: str, folder: Path, name: str, timeout_ms: float = 120_000):
    """Pick `folder` in the upload page's folder input, upload it, wait for the dataset page and,
    on it, for the packed dataset (a worker packs it; the page follows)."""
    page.goto(base_url + "/datasets/new/")
    page.fill("#id_name", name)
    page.set_input_files("#folder-input", str(folder))
    page.click("#upload-button")
    try:
        page.wait_for_url(re.compile(r"/datasets/\d+/$"), timeout=timeout_ms)
    except PlaywrightTimeout:
        status = page.text_content("#upload-status")
        raise AssertionError(
            f"no dataset page after the upload; #upload-status: {status!r}"
        ) from None
    try:
        page.wait_for_selector("#dataset-counts, #dataset-error", timeout=timeout_ms)
    except PlaywrightTimeout:
        state = page.text_content("#packing-state")
        raise AssertionError(f"the dataset was not packed; #packing-state: {state!r}") from None
