"""Request-size limits, enforced before anything reads the body.

`BodyLimit` is the ASGI wrapper in front of Django (mininas_web/asgi.py). An upload whose session
or token does not belong to an active user gets 401, and a Content-Length over the route's limit
413, before one byte of the body is read; a body without a length (chunked) is counted as it
streams in, and gets 413 as soon as it passes the limit, so no more than the limit ever reaches
Django (which spools it to disk past FILE_UPLOAD_MAX_MEMORY_SIZE).
`RequestSizeLimitMiddleware` applies the same limits inside Django, for the test client and WSGI.

Upload routes (UPLOAD_ROUTES) may carry UPLOAD_MAX_REQUEST_BYTES; every other route (the login
page included) REQUEST_MAX_BYTES. Every limit is a setting (mininas_web/settings.py) with a stated
default; README's "Limits" table lists them. A zip's contents are checked by the engine
(searchapp.nas.filetree) under the limits that searchapp.uploads builds from the same settings.
"""

from __future__ import annotations

import json
import logging
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpResponse
from django.http.cookie import parse_cookie
from django.urls import Resolver404, resolve

from searchapp.nas.files import human_bytes

log = logging.getLogger(__name__)

UPLOAD_ROUTES = frozenset({"api-datasets", "api-upload-files"})
"""URL names whose requests carry dataset files (a zip, or a batch of a folder's files)."""


def is_upload_route(path_info: str) -> bool:
    try:
        return resolve(path_info).url_name in UPLOAD_ROUTES
    except Resolver404:
        return False


def body_limit(path_info: str) -> int:
    """Bytes a request body to `path_info` may hold."""
    return limit_for(is_upload_route(path_info))


def limit_for(upload: bool) -> int:
    """Bytes a request body may hold on an upload route, or on any other."""
    small = min(settings.REQUEST_MAX_BYTES, settings.UPLOAD_MAX_REQUEST_BYTES)
    return settings.UPLOAD_MAX_REQUEST_BYTES if upload else small


def credentials(headers: dict[bytes, bytes]) -> tuple[str, str] | None:
    """("token", value) or ("session", key) as the request carries them; None without either."""
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return "token", auth[7:].strip()
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    return ("session", key) if key else None


def valid_credentials(kind: str, value: str) -> bool:
    """Whether a token or a session key belongs to an active user (a database look-up).

    Only a signed-in user or a script with a live token may make the server spool up to
    UPLOAD_MAX_REQUEST_BYTES to disk: made-up credentials are refused before the body is read.
    """
    from django.contrib.auth import get_user
    from django.contrib.sessions.backends.base import SessionBase

    from .tokens import user_for_token

    if kind == "token":
        return user_for_token(value) is not None
    engine = import_module(settings.SESSION_ENGINE)
    session: SessionBase = engine.SessionStore(value)
    if not session.exists(value):
        return False
    user = get_user(SimpleNamespace(session=session))
    return bool(user.is_authenticated and user.is_active)


def has_credentials(headers: dict[bytes, bytes]) -> bool:
    """Whether a request carries a session or a token of an active user (checked in the database)."""
    found = credentials(headers)
    return found is not None and valid_credentials(*found)


def parse_length(raw: str | None) -> int | None:
    """Content-Length as an int; None when absent; -1 when it is not a number of bytes."""
    if raw is None or raw == "":
        return None
    return int(raw) if raw.isdigit() else -1


def refusal(path_info: str, reason: str) -> tuple[str, bytes]:
    """(content type, body) of a refusal: JSON under /api/, plain text elsewhere."""
    if path_info.startswith("/api/"):
        return "application/json", json.dumps({"error": reason}).encode()
    return "text/plain; charset=utf-8", reason.encode()


def too_large(limit: int) -> str:
    return f"request larger than {human_bytes(limit)}"


def length_refusal(raw_length: str | None, limit: int) -> tuple[int, str] | None:
    """(status, reason) when the declared Content-Length is bad or over `limit`, else None."""
    length = parse_length(raw_length)
    if length is None or 0 <= length <= limit:
        return None
    return (400, "bad Content-Length header") if length < 0 else (413, too_large(limit))


class BodyLimit:
    """ASGI wrapper: 413 for a body over its route's limit, without reading more than the limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"][len(scope.get("root_path", "")) :] or "/"
        headers = dict(scope["headers"])
        upload = is_upload_route(path)  # the URL is resolved once per request
        if upload and not await sync_to_async(has_credentials)(headers):
            log.warning(
                "401 %s %s: an upload without credentials; body not read",
                scope["method"], path,
            )  # fmt: skip
            return await self._refuse(send, path, 401, "sign in first, or send an API token")
        limit = limit_for(upload)
        raw = headers.get(b"content-length", b"").decode("latin-1")
        refused = length_refusal(raw, limit)
        if refused:
            log.warning(
                "%s %s %s: Content-Length %s, limit %s bytes; body not read",
                refused[0], scope["method"], path, raw, limit,
            )  # fmt: skip
            return await self._refuse(send, path, *refused)

        received = 0
        over = started = False

        async def counted_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True  # Django drops what it spooled and returns without answering
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, watched_send)
        if over and not started:
            log.warning(
                "413 %s %s: body passed the limit of %s bytes after %s; the rest is discarded",
                scope["method"], path, limit, received,
            )  # fmt: skip
            await self._refuse(send, path, 413, too_large(limit))

    @staticmethod
    async def _refuse(send, path: str, status: int, reason: str) -> None:
        content_type, body = refusal(path, reason)
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class RequestSizeLimitMiddleware:
    """The same limits inside Django: it runs first, before CSRF or a view touches request.POST."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        refused = length_refusal(request.META.get("CONTENT_LENGTH"), body_limit(path))
        if refused:
            status, reason = refused
            content_type, body = refusal(path, reason)
            return HttpResponse(body, status=status, content_type=content_type)
        return self.get_response(request)
