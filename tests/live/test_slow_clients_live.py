"""Slow clients against the real web server (mininas_web/connections.py), over raw TCP.

One server with short timeouts (HEADER_TIMEOUT, BODY_TIMEOUT): connections that never finish
their head or stall in their body are closed with a 408, a body that keeps coming is not cut, and
a WebSocket outlives both timeouts. Another with a ceiling of 50 connections and long timeouts: a
new connection takes the place of the oldest idle one, and is refused with a 503 only when every
connection is in a request. An early answer to a body that keeps coming (401, 413) is read whole,
then the connection ends with a FIN, never a reset (the lingering close). Every wait is for an
event (a socket closed, an answer, bytes sent); the deadlines are failure bounds only.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import select
import socket
import threading
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from mininas_web.connections import LINGER_BYTES, LINGER_TIMEOUT
from tests.live.live_stack import live_stack, session_for

TIMEOUT = 2  # HEADER_TIMEOUT and BODY_TIMEOUT of the first server, seconds
CEILING = 50  # MAX_CONNECTIONS of the second
HEAD = b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # never finished
SETUP = """
from django.contrib.auth import get_user_model
from searchapp.models import Dataset, Search
from searchapp.nas.search import SearchConfig
u = get_user_model().objects.create_user("sam", password="sam-password-1234")
ds = Dataset.objects.create(owner=u, name="d", classes=["a", "b"])
print(Search.objects.create(owner=u, dataset=ds, settings=SearchConfig().to_dict()).pk)
"""


@contextlib.contextmanager
def checked_stack(root, **env):
    """live_stack, then: no traceback in the logs, and no request task left for the shutdown
    to cancel (every stalled request's application saw its disconnect)."""
    with live_stack(root, worker=False, **env) as stack:
        yield stack
        log_dir = stack.log_dir
    text = (log_dir / "web.log").read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert "graceful shutdown exceeded" not in text, text[-3000:]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    env = {"HEADER_TIMEOUT": str(TIMEOUT), "BODY_TIMEOUT": str(TIMEOUT)}
    with checked_stack(tmp_path_factory.mktemp("quick"), **env) as stack:
        yield stack


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    env = {"MAX_CONNECTIONS": str(CEILING), "HEADER_TIMEOUT": "600", "BODY_TIMEOUT": "600"}
    with checked_stack(tmp_path_factory.mktemp("crowded"), **env) as stack:
        yield stack


def open_socket(stack, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
    if data:
        sock.sendall(data)
    return sock


def wait_closed(socks: list[socket.socket], deadline: float = 60) -> list[bytes]:
    """What each socket received until the server closed it (EOF or reset), in order."""
    received = {s: b"" for s in socks}
    pending = set(socks)
    end = time.monotonic() + deadline
    while pending:
        left = end - time.monotonic()
        assert left > 0, f"{len(pending)} of {len(socks)} sockets still open"
        readable, _, _ = select.select(list(pending), [], [], min(left, 1))
        for sock in readable:
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            received[sock] += data
            if not data:
                pending.discard(sock)
                sock.close()
    return [received[s] for s in socks]


def is_open(sock: socket.socket) -> bool:
    """Nothing to read, not even an EOF: the server has not closed it."""
    return not select.select([sock], [], [], 0)[0]


def get(stack, path: str = "/accounts/login/") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length: its head and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or pytest.fail(f"closed after {data!r}")
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(v for k, _, v in (line.partition(b": ") for line in head.split(b"\r\n"))
                      if k.lower() == b"content-length"))  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536) or pytest.fail("closed in the body")
    return head


def post_head(length: int | None, extra: str = "") -> bytes:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{size}\r\n{extra}\r\n"
    ).encode()


# ------------------------------------------------------------------------------------ timeouts


def test_connections_that_never_finish_their_head_get_408_and_are_closed(quick):
    slow = [open_socket(quick, HEAD) for _ in range(200)]
    silent = [open_socket(quick) for _ in range(20)]  # not a byte
    assert get(quick) == 200  # others are served meanwhile
    for data in wait_closed(slow + silent):
        assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data


def test_a_kept_alive_connection_that_stalls_in_its_next_head_is_closed(quick):
    sock = open_socket(quick, b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_response(sock).startswith(b"HTTP/1.1 200")
    sock.sendall(HEAD)  # a byte of the next request ends Uvicorn's keep-alive timer
    (data,) = wait_closed([sock])
    assert data.startswith(b"HTTP/1.1 408"), data


@pytest.mark.parametrize("length", [1000, None], ids=["content-length", "chunked"])
def test_a_stalled_body_gets_408_and_is_closed(quick, length):
    first = b"x=" + b"1" * 8 if length else b"a\r\nx=11111111\r\n"
    sock = open_socket(quick, post_head(length) + first)
    (data,) = wait_closed([sock])
    assert data.startswith(b"HTTP/1.1 408"), data
    assert get(quick) == 200


def test_a_slow_body_that_keeps_coming_is_answered(quick):
    sock = open_socket(quick, post_head(1000) + b"x=")
    stalled = open_socket(quick, post_head(1000) + b"x=")
    sent = 2
    while is_open(stalled):  # until BODY_TIMEOUT has passed since `stalled` sent its last byte
        sock.sendall(b"1")
        sent += 1
        select.select([stalled], [], [], 0.1)
    assert sent < 1000
    sock.sendall(b"1" * (1000 - sent))
    # the application's answer (403: no CSRF cookie), not a timeout
    assert read_response(sock).startswith(b"HTTP/1.1 403")
    sock.close()
    wait_closed([stalled])


def test_a_websocket_outlives_both_timeouts(quick):
    search = int(quick.manage("shell", "-c", SETUP).strip().splitlines()[-1])
    session = session_for(quick, "sam")
    url = f"ws://127.0.0.1:{quick.port}/ws/searches/{search}/"
    with connect(
        url,
        origin=quick.url,
        additional_headers={"Cookie": f"sessionid={session}"},
        open_timeout=30,
    ) as ws:
        assert ws.recv(timeout=30)  # the snapshot
        head = open_socket(quick, HEAD)
        body = open_socket(quick, post_head(1000) + b"x=")
        wait_closed([head, body])  # both timeouts have passed since the socket opened
        assert ws.ping().wait(timeout=30)  # its pong: still open
        ws.send('{"type": "resync"}')
        assert ws.recv(timeout=30)


# ------------------------------------------------------------------------------------- ceiling


def test_at_the_ceiling_a_new_connection_replaces_the_oldest_idle_one(crowded):
    socks = [open_socket(crowded, HEAD) for _ in range(CEILING + 10)]
    try:
        # each of the last 10 closed one of the first 10, at once, without an answer
        assert wait_closed(socks[:10]) == [b""] * 10
        assert all(is_open(s) for s in socks[10:])
        assert get(crowded) == 200  # a real client is served at once...
        assert wait_closed([socks[10]]) == [b""]  # ...in the place of the oldest idle one
        assert all(is_open(s) for s in socks[11:])
        log = crowded.log("web").read_text()
        assert "50 connections open (the ceiling): the oldest idle one was closed" in log
    finally:
        for sock in socks:
            sock.close()


def test_when_every_connection_is_in_a_request_a_new_one_gets_503(crowded):
    busy = []
    try:
        for _ in range(CEILING):  # requests whose application is reading their body
            sock = open_socket(crowded, post_head(1000, "Expect: 100-continue\r\n"))
            assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
            sock.sendall(b"x=1")
            busy.append(sock)
        (data,) = wait_closed([open_socket(crowded)])
        assert data.startswith(b"HTTP/1.1 503 Service Unavailable"), data
        assert "none idle: a new one was refused (503)" in crowded.log("web").read_text()
        for sock in busy[:5]:  # five requests end; their connections wait for the next one
            sock.sendall(b"1" * 997)
            assert read_response(sock).startswith(b"HTTP/1.1 403")
        assert get(crowded) == 200
        assert all(is_open(s) for s in busy[5:])
    finally:
        for sock in busy:
            sock.close()


# ------------------------------------------------------------------------------ lingering close

MiB = 2**20
CHUNK = 64 * 2**10
# the client's TCP states (linux/tcp_states.h): the server's FIN came (CLOSE_WAIT), or both
# sides' FINs did (LAST_ACK until the server's ACK of the client's FIN, then CLOSE)
CLOSE, CLOSE_WAIT, LAST_ACK = 7, 8, 9
# an upload with a made-up token (401, body not read) and a form over REQUEST_MAX_BYTES (413,
# part of the body read); both with `Connection: close`, as nginx sends them
EARLY = {
    "401": (
        b"POST /api/datasets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\n"
        b"Content-Type: application/zip\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        % (1 << 40),
        b"x" * CHUNK,
    ),
    "413": (
        post_head(None, "Connection: close\r\n"),
        b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK),
    ),
}


class Sender(threading.Thread):
    """Sends `chunk` on `sock` over and over until stopped or the socket fails."""

    def __init__(self, sock: socket.socket, chunk: bytes):
        super().__init__(daemon=True)
        self.sock, self.chunk = sock, chunk
        self.sent = 0
        self.error: OSError | None = None
        self.stopping = threading.Event()
        self.progress = threading.Condition()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.sock.sendall(self.chunk)
                with self.progress:
                    self.sent += len(self.chunk)
                    self.progress.notify_all()
        except OSError as exc:
            self.error = exc
        with self.progress:
            self.stopping.set()
            self.progress.notify_all()

    def wait_sent(self, total: int) -> None:
        with self.progress:
            self.progress.wait_for(lambda: self.sent >= total or self.stopping.is_set(), 120)
        assert self.sent >= total, (self.sent, self.error)

    def stop(self) -> None:
        self.stopping.set()
        self.join(60)
        assert not self.is_alive()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything until the server's FIN; a reset raises ConnectionResetError."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def assert_whole(answer: bytes, status: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status), answer[:300]
    length = re.search(rb"\r\ncontent-length: (\d+)", head, re.IGNORECASE)
    assert length and len(body) == int(length[1]), answer


def ports(sock: socket.socket) -> tuple[int, int]:
    """(the client's port, the server's) of a connected socket."""
    return sock.getsockname()[1], sock.getpeername()[1]


def server_end_closed(here: int, there: int) -> bool:
    """The server process has closed its end of the connection between these ports: Linux lists
    a socket no process holds with inode 0 in /proc/net/tcp (or no more)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
        if (local, remote) == (there, here):
            return fields[9] == "0"
    return True


def wait_server_closed(ends: tuple[int, int], deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while not server_end_closed(*ends):
        assert time.monotonic() < end, "the server still holds the connection"
        time.sleep(0.05)


def ended_with_fin(sock: socket.socket, states=(CLOSE_WAIT,)) -> bool:
    """No reset came (no pending error), and the client's TCP state is one of `states`."""
    state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    assert state in states and error == 0, (state, error)
    return True


needs_linux = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table"
)


@needs_linux
@pytest.mark.parametrize("status", EARLY)
def test_an_early_answer_is_read_whole_while_the_body_keeps_coming(quick, status):
    head, chunk = EARLY[status]
    with open_socket(quick, head) as sock:
        ends = ports(sock)
        sender = Sender(sock, chunk)
        sender.start()
        try:
            assert_whole(read_until_closed(sock), status.encode())  # then the server's FIN
            # the server still reads: more than both ends' buffers hold goes through, no reset
            sender.wait_sent(sender.sent + 64 * MiB)
        finally:
            sender.stop()
        assert sender.error is None, sender.error
        wait_server_closed(ends)  # LINGER_TIMEOUT after the last byte
        assert ended_with_fin(sock)


@needs_linux
def test_a_client_that_stops_sending_gets_the_answer_and_a_fin(quick):
    head, chunk = EARLY["401"]
    with open_socket(quick, head + chunk * 16) as sock:
        ends = ports(sock)
        assert_whole(read_until_closed(sock), b"401")
        sock.shutdown(socket.SHUT_WR)  # the client's FIN ends the lingering at once
        started = time.monotonic()
        wait_server_closed(ends)
        assert time.monotonic() - started < LINGER_TIMEOUT
        assert ended_with_fin(sock, (LAST_ACK, CLOSE))


@needs_linux
def test_a_client_that_never_stops_sending_is_cut_after_linger_bytes(quick):
    head, _ = EARLY["401"]
    with open_socket(quick, head) as sock:
        ends = ports(sock)
        sender = Sender(sock, b"x" * MiB)
        sender.start()
        try:
            assert_whole(read_until_closed(sock), b"401")
            sender.join(120)  # until the server closes
        finally:
            sender.stop()
        assert isinstance(sender.error, (ConnectionResetError, BrokenPipeError)), sender.error
        assert sender.sent >= LINGER_BYTES
        wait_server_closed(ends)
    assert get(quick) == 200
