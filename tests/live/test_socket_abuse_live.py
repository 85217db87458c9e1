"""Socket abuse against the real web server process, as a raw client over TCP sees it: the close
codes reach the client (bad routes 4404 instead of a handshake 500), a page on another port is
refused at the handshake, the server's own message cap holds, and no log holds a traceback.

The same cases in-process, and many more, are in tests/web/test_socket_abuse.py.
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.live.live_stack import live_stack, session_for

SETUP = """
from django.contrib.auth import get_user_model
from searchapp.models import Dataset, Search
from searchapp.nas.search import SearchConfig
u = get_user_model().objects.create_user("mallory", password="mallory-password")
ds = Dataset.objects.create(owner=u, name="d", classes=["a", "b"])
print(Search.objects.create(owner=u, dataset=ds, settings=SearchConfig().to_dict()).pk)
"""
MAX_SOCKETS = 5  # WS_MAX_SOCKETS_PER_USER of the server under test


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("sockets")
    with live_stack(root, worker=False, WS_MAX_SOCKETS_PER_USER=str(MAX_SOCKETS)) as stack:
        search = int(stack.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        ids = {"search": search, "session": session_for(stack, "mallory")}
        yield stack, ids
        log_dir = stack.log_dir
    # after the stop: the whole log, shutdown included
    logs = {p.name: p.read_text(errors="replace") for p in log_dir.glob("*.log")}
    assert "web.log" in logs
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
        # every socket's task ended: none was left for the shutdown to cancel
        assert "graceful shutdown exceeded" not in text, f"{name}:\n{text[-3000:]}"


def _open(site, path=None, origin="same", cookie=True):
    stack, ids = site
    path = path or f"/ws/searches/{ids['search']}/"
    base = stack.url.removeprefix("http://")
    headers = {"Cookie": f"sessionid={ids['session']}"} if cookie else {}
    if origin == "same":
        origin = stack.url
    return connect(
        f"ws://{base}{path}",
        origin=origin,
        additional_headers=headers,
        open_timeout=10,
        close_timeout=5,
        max_size=None,
    )


def _close_code(ws) -> int:
    """The code of the server's close, after any messages it sent first."""
    try:
        while True:
            ws.recv(timeout=10)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else 1006


def _snapshot(ws) -> dict:
    msg = json.loads(ws.recv(timeout=10))
    assert msg["type"] == "snapshot"
    return msg


@pytest.mark.parametrize(
    "path", ["/ws/searches/-1/", "/ws/nope/", "/ws/searches/99999999999999999999999/", "/x"]
)
def test_bad_routes_close_with_4404_not_a_handshake_500(site, path):
    with _open(site, path) as ws:
        assert _close_code(ws) == 4404


def test_a_signed_out_page_sees_4401(site):
    with _open(site, cookie=False) as ws:
        assert _close_code(ws) == 4401


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:1", "https://{host}", "http://evil.example", None]
)
def test_a_foreign_origin_is_refused_at_the_handshake(site, origin):
    stack, _ = site
    if origin:
        origin = origin.format(host=stack.url.removeprefix("http://"))
    with pytest.raises(InvalidStatus) as refused:
        _open(site, origin=origin)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    "frame, code",
    [
        (b"\x00\x01", 1003),  # binary
        ("[" * 100_000, 1009),  # over the server's cap: closed before the app sees it
        ("x" * 2**20, 1009),
        ("[" * 20_000, 1009),  # under the server's cap, over WS_MAX_MESSAGE_BYTES
    ],
    ids=["binary", "deep-100k", "1MiB", "20k"],
)
def test_hostile_frames_close_the_socket_cleanly(site, frame, code):
    with _open(site) as ws:
        _snapshot(ws)
        ws.send(frame)
        assert _close_code(ws) == code


def test_garbage_is_ignored_and_the_socket_still_answers(site):
    with _open(site) as ws:
        _snapshot(ws)
        for junk in ("not json", "[" * 3000, '{"type": 5}', "null", '{"type": "ping", "seq": "x"}'):
            ws.send(junk)
        ws.send(json.dumps({"type": "resync"}))
        _snapshot(ws)  # the ping's (coalesced with the resync): one snapshot


def test_a_flood_of_resyncs_gets_one_snapshot_per_second(site):
    with _open(site) as ws:
        _snapshot(ws)
        started = time.monotonic()
        for _ in range(500):
            ws.send('{"type": "resync"}')
        answers = []
        try:
            while True:
                answers.append(json.loads(ws.recv(timeout=2.5))["type"])
        except TimeoutError:
            pass
        elapsed = time.monotonic() - started
        assert answers and set(answers) == {"snapshot"}
        assert len(answers) <= 1 + elapsed  # not 500


def test_a_user_may_hold_a_limited_number_of_sockets(site):
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(_open(site)) for _ in range(MAX_SOCKETS)]
        for ws in sockets:
            _snapshot(ws)
        with _open(site) as extra:
            assert _close_code(extra) == 1008
        sockets[0].close()
        deadline = time.monotonic() + 30
        while True:  # until the server has seen the close: refused with 1008 before that
            with _open(site) as again:
                try:
                    _snapshot(again)
                    break
                except ConnectionClosed as exc:
                    assert exc.rcvd and exc.rcvd.code == 1008, exc
                    assert time.monotonic() < deadline, "the server never saw the close"
            time.sleep(0.05)
