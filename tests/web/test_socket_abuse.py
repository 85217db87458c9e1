"""A socket that cannot be crashed or abused: hostile messages, floods, too many sockets, bad
routes and foreign origins, each answered by ignoring it or by a clean close, never a traceback.

The real server's side (what a raw client sees over TCP) is in tests/live/test_socket_abuse_live.py.
"""

from __future__ import annotations

import logging
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from searchapp.consumers import PageConsumer
from searchapp.routing import same_origin, trusted_origin
from searchapp.tasks import broadcast
from tests.web.sockets import close_code, closed_with, communicator, session_headers

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = "[" * 3000  # under the size limit, past the JSON parser's recursion limit

# (what, frame, expected): a text (str) or binary (bytes) frame, and what the socket does:
# "ignored" (it stays open and still answers), its answer ("snapshot", "pong"; a seq that is
# no number gets a snapshot), or the close code it sends.
MESSAGES = [
    ("not JSON", "not json", "ignored"),
    ("truncated JSON", '{"type": "resync"', "ignored"),
    ("empty text frame", "", "ignored"),
    ("nested 3,000 deep", DEEP, "ignored"),
    ("nested objects 800 deep", '{"a":' * 800, "ignored"),
    ('"[" * 100000', "[" * 100_000, 1009),
    ("a 1 MiB message", "x" * 2**20, 1009),
    ("4,096 bytes of 2-byte characters", "é" * 2048, "ignored"),
    ("4,098 bytes of 2-byte characters", "é" * 2049, 1009),
    ("a lone surrogate", '"\ud800"', "ignored"),
    ("a 4,000-digit number", "1" * 4000, "ignored"),
    ("a list", '["resync"]', "ignored"),
    ("null", "null", "ignored"),
    ("an unknown type", '{"type": "drop_tables"}', "ignored"),
    ("a list as the type", '{"type": ["resync"]}', "ignored"),
    ("an object as the type", '{"type": {"resync": 1}}', "ignored"),
    ("a ping with a string seq", '{"type": "ping", "seq": "x"}', "snapshot"),
    ("a ping with NaN", '{"type": "ping", "seq": NaN}', "snapshot"),
    ("a ping with a huge float seq", '{"type": "ping", "seq": 1e308}', "snapshot"),
    ("a ping with a 300-digit seq", '{"type": "ping", "seq": ' + "9" * 300 + "}", "pong"),
    ("a binary frame", b'{"type": "resync"}', 1003),
    ("an empty binary frame", b"", 1003),
]


@pytest.fixture
def no_tracebacks(caplog):
    """Fails the test if anything logged an error or a traceback (asyncio's included)."""
    caplog.set_level(logging.INFO)
    yield
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


async def _open(user, search):
    comm = communicator(user, f"/ws/searches/{search.pk}/")
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "snapshot"
    return comm


async def _send(comm, frame):
    """One frame as the server hands it over (send_to refuses empty ones)."""
    key = "bytes" if isinstance(frame, bytes) else "text"
    await comm.send_input({"type": "websocket.receive", key: frame})


@pytest.mark.parametrize("what, frame, expected", MESSAGES, ids=[m[0] for m in MESSAGES])
async def test_hostile_messages_are_ignored_or_closed(
    alice, search, settings, no_tracebacks, what, frame, expected
):
    settings.WS_SNAPSHOT_INTERVAL_MS = 0
    comm = await _open(alice, search)
    await _send(comm, frame)
    if isinstance(expected, int):
        assert await closed_with(comm) == expected
        return
    if expected != "ignored":
        assert (await comm.receive_json_from())["type"] == expected
    assert await comm.receive_nothing(0.05)
    await comm.send_json_to({"type": "resync"})  # still alive and answering
    assert (await comm.receive_json_from())["type"] == "snapshot"
    await comm.disconnect()


async def _count_answers(comm, timeout: float) -> list[str]:
    answers = []
    while not await comm.receive_nothing(timeout):
        answers.append((await comm.receive_json_from())["type"])
    return answers


@pytest.mark.parametrize("request_type", ["resync", "ping"])
async def test_a_flood_of_requests_gets_one_snapshot_per_interval(
    alice, search, settings, no_tracebacks, request_type
):
    """500 requests within the interval after the connect's snapshot: one coalesced answer
    when the interval ends (the page is never left without one), not 500."""
    settings.WS_SNAPSHOT_INTERVAL_MS = 1000
    comm = await _open(alice, search)
    started = time.monotonic()
    for _ in range(500):
        await comm.send_json_to({"type": request_type, "seq": 0})
    elapsed = time.monotonic() - started
    answers = await _count_answers(comm, timeout=1.5)
    expected = "snapshot" if request_type == "resync" else "pong"
    assert answers and set(answers) == {expected}
    assert len(answers) <= 1 + elapsed / 1.0  # one per interval that the flood spanned
    await comm.disconnect()


async def test_a_resync_outranks_pings_in_the_same_interval(alice, search, settings):
    settings.WS_SNAPSHOT_INTERVAL_MS = 300
    comm = await _open(alice, search)
    await comm.send_json_to({"type": "ping", "seq": 0})  # alone it would get a pong
    await comm.send_json_to({"type": "resync"})
    await comm.send_json_to({"type": "ping", "seq": 0})
    assert await _count_answers(comm, timeout=1.0) == ["snapshot"]
    await comm.disconnect()


async def test_nothing_is_sent_after_a_close(alice, search, settings, no_tracebacks):
    """A server refuses a send past the close (uvicorn raises): neither the coalesced snapshot
    that was waiting nor an event broadcast before the client's disconnect may follow it."""
    settings.WS_SNAPSHOT_INTERVAL_MS = 200
    comm = await _open(alice, search)
    await comm.send_json_to({"type": "resync"})  # waits for the interval's end
    await _send(comm, b"binary")
    assert await closed_with(comm) == 1003
    await database_sync_to_async(broadcast.record)(search.pk, "search.phase", _phase("width"))
    assert await comm.receive_nothing(0.5)  # past the interval: no snapshot, no event


def _phase(phase):
    def apply(s):
        s.phase = phase
        s.save()
        return {"phase": phase}

    return apply


async def test_a_deleted_search_closes_its_socket_on_the_next_resync(alice, search, settings):
    settings.WS_SNAPSHOT_INTERVAL_MS = 0
    comm = await _open(alice, search)
    await database_sync_to_async(search.delete)()
    await comm.send_json_to({"type": "resync"})
    assert await closed_with(comm) == 4404


async def test_a_user_may_hold_a_limited_number_of_sockets(alice, bob, search, no_tracebacks):
    limit = 20  # the default WS_MAX_SOCKETS_PER_USER
    sockets = [await _open(alice, search) for _ in range(limit)]
    assert await close_code(communicator(alice, f"/ws/searches/{search.pk}/")) == 1008
    # others are not counted against alice: bob is refused only because it is not his search
    assert await close_code(communicator(bob, f"/ws/searches/{search.pk}/")) == 4404
    await sockets.pop().disconnect()  # a closed socket frees its place
    sockets.append(await _open(alice, search))
    for comm in sockets:
        await comm.disconnect()
    assert not PageConsumer.open_sockets  # every place given back


async def test_refused_sockets_do_not_count(alice, search, settings):
    settings.WS_MAX_SOCKETS_PER_USER = 2
    for _ in range(5):
        assert await close_code(communicator(alice, "/ws/searches/999/")) == 4404
    sockets = [await _open(alice, search) for _ in range(2)]
    for comm in sockets:
        await comm.disconnect()
    assert not PageConsumer.open_sockets


BAD_ROUTES = [
    "/ws/searches/-1/",
    "/ws/nope/",
    "/ws/searches/abc/",
    "/ws/searches/99999999999999999999999/",
    "/ws/searches/1/extra/",
    "/ws/suite/-5/",
    "/",
]


@pytest.mark.parametrize("path", BAD_ROUTES)
async def test_bad_routes_close_cleanly_with_4404(alice, search, no_tracebacks, path):
    from mininas_web.asgi import application

    headers = await database_sync_to_async(session_headers)(alice)
    comm = WebsocketCommunicator(application, path, headers=headers)
    assert await close_code(comm) == 4404


async def test_bad_routes_close_cleanly_for_anonymous_users_too(db, no_tracebacks):
    from mininas_web.asgi import application

    comm = WebsocketCommunicator(
        application,
        "/ws/nope/",
        headers=[(b"host", b"localhost:8000"), (b"origin", b"http://localhost:8000")],
    )
    assert await close_code(comm) == 4404
    comm = WebsocketCommunicator(application, "/ws/searches/1/", headers=comm.scope["headers"])
    assert await close_code(comm) == 4401


# ----------------------------------------------------------------------------- origin

# (Origin, Host, scope scheme, allowed?)
ORIGINS = [
    ("http://localhost:8000", "localhost:8000", "ws", True),
    ("http://localhost:8001", "localhost:8000", "ws", False),  # another port
    ("https://localhost:8000", "localhost:8000", "ws", False),  # another scheme
    ("http://localhost", "localhost", "ws", True),
    ("http://localhost:80", "localhost", "ws", True),  # the default port, spelled out
    ("https://localhost", "localhost", "wss", True),
    ("http://localhost", "localhost", "wss", False),
    ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", True),
    ("http://[::1]:8000", "[::1]:8000", "ws", True),
    ("http://127.0.0.1:8000", "localhost:8000", "ws", False),  # another host
    ("http://evil.example", "evil.example", "ws", False),  # not in ALLOWED_HOSTS
    ("http://localhost.evil.example:8000", "localhost:8000", "ws", False),
    ("", "localhost:8000", "ws", False),  # no Origin: refused
    ("null", "localhost:8000", "ws", False),
    ("http://localhost:99999", "localhost:8000", "ws", False),  # a bad port
    ("http://localhost:8000", "", "ws", False),  # no Host
    ("http://localhost:8000", "localhost:abc", "ws", False),
    ("ftp://localhost:8000", "localhost:8000", "ws", False),
    ("http://[::1", "localhost:8000", "ws", False),
]


def _scope(host, scheme="ws", **headers):
    raw = [(b"host", host.encode())] if host else []
    raw += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"type": "websocket", "scheme": scheme, "headers": raw}


@pytest.mark.parametrize("origin, host, scheme, allowed", ORIGINS)
def test_the_origin_must_be_this_sites_scheme_host_and_port(origin, host, scheme, allowed):
    assert same_origin(origin, _scope(host, scheme)) is allowed


def test_a_tls_proxy_is_believed_only_when_configured(settings):
    scope = _scope("nas.example.org", "ws", x_forwarded_proto="https")
    settings.ALLOWED_HOSTS = ["nas.example.org"]
    assert not same_origin("https://nas.example.org", scope)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert same_origin("https://nas.example.org", scope)
    assert not same_origin("http://nas.example.org", scope)


def test_csrf_trusted_origins_are_trusted_with_their_port(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://nas.example.org", "https://*.lab.example.org"]
    assert trusted_origin("https://nas.example.org")
    assert trusted_origin("https://nas.example.org:443")
    assert not trusted_origin("https://nas.example.org:8443")
    assert not trusted_origin("http://nas.example.org")
    assert trusted_origin("https://gpu1.lab.example.org")
    assert not trusted_origin("https://lab.example.org.evil.example")
    assert not trusted_origin("")


async def test_the_full_stack_refuses_a_page_on_another_port(alice, search, no_tracebacks):
    from mininas_web.asgi import application

    path = f"/ws/searches/{search.pk}/"
    headers = await database_sync_to_async(session_headers)(alice, "http://localhost:8001")
    connected, _ = await WebsocketCommunicator(application, path, headers=headers).connect()
    assert not connected  # refused before the handshake: the other page learns nothing
    headers = await database_sync_to_async(session_headers)(alice, "http://localhost:8000")
    comm = WebsocketCommunicator(application, path, headers=headers)
    assert (await comm.connect())[0]
    await comm.disconnect()


def test_every_hostile_case_is_counted():
    """The README's figure: socket abuse cases tried (this file's tables) / tracebacks (0)."""
    assert len(MESSAGES) + len(BAD_ROUTES) + len(ORIGINS) == 48
