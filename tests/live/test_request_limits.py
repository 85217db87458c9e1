"""Oversized bodies against the real web server process (Uvicorn + searchapp.limits.BodyLimit).

The client sends the request head and at most a little of the body, then waits: a 413 that
arrives while the client is still holding the rest back shows that the server answered without
reading the body (a declared length: not one byte of it was sent), or after reading no more than
the limit (a chunked body: the terminating chunk is never sent).
"""

from __future__ import annotations

import http.client
import json
import select
import socket
from collections.abc import Iterable

import pytest

from tests.live.live_stack import create_user, live_stack, session_for

SMALL = 64 * 2**10  # REQUEST_MAX_BYTES of the server under test
UPLOAD = 4 * 2**20  # its UPLOAD_MAX_REQUEST_BYTES
CHUNK = 16 * 2**10
MADE_UP_TOKEN = "Bearer mnas_not-a-real-token"
TOKEN_OF = """
from django.contrib.auth import get_user_model
from searchapp.tokens import create_token
print(create_token(get_user_model().objects.get(username="uploader"), "limits")[1])
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    env = {"REQUEST_MAX_BYTES": str(SMALL), "UPLOAD_MAX_REQUEST_BYTES": str(UPLOAD)}
    with live_stack(root, worker=False, **env) as s:
        create_user(s, "uploader", "pw-uploader-1")
        s.token = "Bearer " + s.manage("shell", "-c", TOKEN_OF).strip().splitlines()[-1]
        s.session = session_for(s, "uploader")
        yield s


def head(path: str, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/octet-stream"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(total: int) -> Iterable[bytes]:
    """`total` bytes as HTTP/1.1 chunks, without the terminating zero-size chunk."""
    for _ in range(total // CHUNK):
        yield b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"


def send_until_answered(port: int, request_head: bytes, body: Iterable[bytes] = ()):
    """Send the head, then body pieces while the server has not answered; never finish the body.

    Returns (status, response body, body bytes sent before the answer).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request_head)
        sent = 0
        for piece in body:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is there
            sock.sendall(piece)
            sent += len(piece)
        response = http.client.HTTPResponse(sock)
        response.begin()  # blocks until the answer: the body is never completed
        return response.status, response.read(), sent


def test_a_declared_length_over_the_limit_gets_413_before_any_body_is_sent(stack):
    status, body, sent = send_until_answered(
        stack.port, head("/accounts/login/", Content_Length=str(2**31))
    )
    assert (status, sent) == (413, 0)
    assert body == b"request larger than 64 KiB"
    assert "POST /accounts/login/: Content-Length 2147483648" in stack.log("web").read_text()


def test_an_upload_route_allows_more_but_not_past_its_own_limit(stack):
    status, body, sent = send_until_answered(
        stack.port, head("/api/datasets/", Content_Length=str(UPLOAD + 1), Authorization=stack.token)
    )
    assert (status, sent) == (413, 0)
    assert json.loads(body) == {"error": "request larger than 4 MiB"}
    assert "body not read" in stack.log("web").read_text()


def test_a_chunked_body_gets_413_once_it_passes_the_limit(stack):
    status, body, sent = send_until_answered(
        stack.port, head("/accounts/login/", Transfer_Encoding="chunked"), chunked(4 * SMALL)
    )
    assert status == 413 and body == b"request larger than 64 KiB"
    assert sent < 4 * SMALL + 4 * CHUNK  # answered while the client held the rest back
    assert "the rest is discarded" in stack.log("web").read_text()


def test_a_chunked_upload_gets_413_once_it_passes_the_upload_limit(stack):
    status, body, _ = send_until_answered(
        stack.port,
        head("/api/datasets/", Transfer_Encoding="chunked", Authorization=stack.token),
        chunked(2 * UPLOAD),
    )
    assert status == 413
    assert json.loads(body) == {"error": "request larger than 4 MiB"}


def test_a_bad_content_length_is_refused(stack):
    status, _, _ = send_until_answered(
        stack.port, head("/api/datasets/", Content_Length="12abc", Authorization=stack.token)
    )
    assert status == 400


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"Authorization": "Basic YTpi"},
        {"Cookie": "other=1"},
        {"Cookie": "sessionid=x"},
        {"Cookie": "sessionid=" + "a" * 32},
        {"Authorization": MADE_UP_TOKEN},
        {"Authorization": "Bearer x"},
    ],
)
def test_an_upload_without_valid_credentials_gets_401_before_any_body_is_sent(stack, extra):
    status, body, sent = send_until_answered(
        stack.port, head("/api/datasets/", Content_Length=str(UPLOAD), **extra)
    )
    assert (status, sent) == (401, 0)
    assert json.loads(body) == {"error": "sign in first, or send an API token"}
    assert "an upload without credentials; body not read" in stack.log("web").read_text()


def test_a_signed_in_session_may_upload(stack):
    status, body, _ = send_until_answered(
        stack.port,
        head("/api/datasets/", Content_Length=str(UPLOAD + 1), Cookie=f"sessionid={stack.session}"),
    )
    assert status == 413  # past the credentials check, refused by its size alone
    assert json.loads(body) == {"error": "request larger than 4 MiB"}


def test_bodies_within_the_limit_reach_django(stack):
    body = b"x" * (SMALL // 2)
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.request(
        "POST", "/api/datasets/", body=iter([body]), encode_chunked=True,
        headers={"Authorization": stack.token},
    )  # fmt: skip
    response = conn.getresponse()
    assert response.status == 400  # the API read it and says what is wrong with it
    assert "error" in json.loads(response.read())
    conn.request("POST", "/accounts/login/", body=body)
    assert conn.getresponse().status == 403  # Django's CSRF check read it
    conn.close()
