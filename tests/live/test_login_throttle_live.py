"""Sign-in throttling through the real web server (ASGI: django-axes' async middleware path,
which the test client never takes); the in-process cases are in tests/web/test_login_throttle.py.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.live.live_stack import create_user, live_stack

LIMIT = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("throttle")
    with live_stack(root, worker=False, LOGIN_FAILURE_LIMIT=str(LIMIT)) as s:
        create_user(s, "alice", "alice-password-1")
        yield s
    log = (root / "log" / "web.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    assert 'Locking out {username: "alice", ip_address: "127.0.0.1"' in log


def sign_in(base: str, password: str) -> tuple[int, str]:
    """A browser's sign-in (CSRF cookie and token): the status and the page it ends on."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(base + "/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    form = {"username": "alice", "password": password, "csrfmiddlewaretoken": token}
    request = urllib.request.Request(
        base + "/accounts/login/",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Referer": base + "/accounts/login/"},
    )
    try:
        with opener.open(request) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_wrong_passwords_lock_the_right_one_out_with_a_reason(stack):
    statuses = [sign_in(stack.url, "wrong")[0] for _ in range(LIMIT + 2)]
    assert statuses == [200] * (LIMIT - 1) + [429] * 3
    status, page = sign_in(stack.url, "alice-password-1")
    assert status == 429
    assert "Too many failed sign-ins for this username or from this address" in page
    assert 'id="id_username"' in page  # the sign-in page itself, not an error page
