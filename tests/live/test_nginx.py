"""deploy/nginx.conf in a real nginx in front of the real web server (skipped without nginx).

The config is docker-compose.yml's, with only the upstream changed from `web:8000` (Docker's
DNS) to the test server's address, the listening port to a free one, and the client header and
body timeouts shortened to SHORT seconds (their values are checked in tests/web/test_deploy.py).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import re
import select
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from mininas_web.redis_server import free_port
from tests.live.live_stack import live_stack

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not shutil.which("nginx"), reason="nginx is not installed (apt-get install nginx)"
)
SHORT = 2  # seconds: client_header_timeout and client_body_timeout in the test's nginx


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The web server behind nginx: (nginx's port, the web server's log)."""
    root = tmp_path_factory.mktemp("nginx")
    with live_stack(root / "stack", worker=False) as stack:
        with nginx_in_front(root, stack.port) as port:
            yield port, stack.log("web")


@pytest.fixture(scope="module")
def nginx_port(site):
    return site[0]


@contextlib.contextmanager
def nginx_in_front(root: Path, web_port: int):
    """deploy/nginx.conf in a real nginx, proxying to the web server on `web_port`; its port."""
    port = free_port()
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf = conf.replace("resolver 127.0.0.11 valid=10s ipv6=off;", "")
    conf = conf.replace("http://web:8000", f"http://127.0.0.1:{web_port}")
    conf = conf.replace("listen 80 default_server;", f"listen 127.0.0.1:{port};")
    for directive in ("client_header_timeout", "client_body_timeout"):
        conf, n = re.subn(rf"{directive} \w+;", f"{directive} {SHORT}s;", conf)
        assert n == 1, directive
    (root / "site.conf").write_text(conf)
    (root / "nginx.conf").write_text(
        f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {root}/site.conf;\n}}\n"
    )
    proc = subprocess.Popen(
        ["nginx", "-c", str(root / "nginx.conf"), "-p", str(root), "-g", "daemon off;"]
    )
    try:
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        assert proc.poll() is None, (root / "error.log").read_text()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def request(port: int, method: str, path: str, body=None, headers=None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = headers or {}
    conn.request(
        method, path, body=body, headers=headers, encode_chunked="Transfer-Encoding" in headers
    )
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def test_nginx_refuses_a_body_over_the_page_limit(nginx_port):
    status, body = request(nginx_port, "POST", "/accounts/login/", b"x" * (2 * 2**20))
    assert status == 413 and b"nginx" in body  # answered by nginx, not the app


def test_upload_bodies_stream_through_to_the_app(nginx_port):
    token = {"Authorization": "Bearer mnas_not-a-real-token"}
    for headers in (token, {**token, "Transfer-Encoding": "chunked"}):
        status, body = request(nginx_port, "POST", "/api/datasets/", b"x" * 3 * 2**20, headers)
        assert status == 401 and b"token" in body  # the API's answer: it got the request


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic YTpi"}, {"Cookie": "x=1"}])
def test_an_anonymous_upload_is_refused_by_nginx(nginx_port, headers):
    status, body = request(nginx_port, "POST", "/api/datasets/", b"x" * 3 * 2**20, headers)
    assert (status, body) == (401, b'{"error": "sign in first, or send an API token"}')


def test_sockets_are_upgraded(nginx_port):
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        f"GET /ws/searches/1/ HTTP/1.1\r\nHost: 127.0.0.1:{nginx_port}\r\n"
        f"Origin: http://127.0.0.1:{nginx_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", nginx_port), timeout=10) as sock:
        sock.sendall(head.encode())
        status_line = sock.recv(100).split(b"\r\n", 1)[0]
    # 101, or the socket route's own refusal: without the upgrade headers it would be a 404 page.
    assert status_line.split()[1] in (b"101", b"403"), status_line


def test_a_burst_of_sign_in_requests_is_rate_limited(nginx_port):
    statuses = [request(nginx_port, "GET", "/accounts/login/")[0] for _ in range(40)]
    assert statuses[0] == 200 and 429 in statuses


def closed_by_server(sock: socket.socket, deadline: float = 60) -> bytes:
    """What the socket received until the server closed it (EOF or reset)."""
    received = b""
    end = time.monotonic() + deadline
    while True:
        left = end - time.monotonic()
        assert left > 0, f"still open after {deadline} s; received {received!r}"
        if select.select([sock], [], [], min(left, 1))[0]:
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                return received
            if not data:
                return received
            received += data


def test_a_head_never_finished_is_cut_by_nginx_and_never_reaches_the_app(site):
    port, web_log = site
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /slow-head-never-forwarded/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
        closed_by_server(sock)
    # the app answers others (not the sign-in page: the burst test has used up its rate)
    assert request(port, "GET", "/")[0] == 302
    assert "/slow-head-never-forwarded/" not in web_log.read_text()


def test_a_stalled_body_is_cut_by_nginx(site):
    port, web_log = site
    head = (
        "POST /stalled-body/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nx="
    )  # not the sign-in page: the burst test above has used up its rate
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        answer = closed_by_server(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
    assert "/stalled-body/" not in web_log.read_text()  # nginx reads a body before it forwards
