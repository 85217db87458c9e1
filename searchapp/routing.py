"""The socket routes, and the stack in front of them: same-origin check, session user, router.

websocket_urlpatterns are the pages' sockets (tests/web/test_access.py checks each one); any
other path gets NoRouteConsumer's 4404 instead of a handshake 500 from the router.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.urls import path, re_path
from django.utils.http import is_same_domain

from .consumers import NoRouteConsumer, SearchConsumer, SuiteConsumer

log = logging.getLogger(__name__)

websocket_urlpatterns = [
    path("ws/searches/<int:search_id>/", SearchConsumer.as_asgi()),
    path("ws/suite/<int:run_id>/", SuiteConsumer.as_asgi()),
]
DEFAULT_PORTS = {"http": 80, "https": 443}


def websocket_application():
    """What asgi.py serves for "websocket": origin, then the session's user, then the route."""
    routes = [*websocket_urlpatterns, re_path(r"", NoRouteConsumer.as_asgi())]
    return SameOriginValidator(AuthMiddlewareStack(URLRouter(routes)))


class SameOriginValidator:
    """Lets a socket through only when its Origin is this site, scheme, host and port.

    "This site" is the request's own Host header (which must be in ALLOWED_HOSTS) with the
    scheme it came in on, or one of CSRF_TRUSTED_ORIGINS (a proxy that changes the host).
    Channels' AllowedHostsOriginValidator ignores the port, so a page on another port of the
    same host could read a user's search. A request without an Origin is refused:
    browsers always send one.
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        if same_origin(origin, scope) or trusted_origin(origin):
            return await self.application(scope, receive, send)
        log.warning(
            "socket %s refused: origin %r, host %r",
            scope.get("path"),
            origin,
            _header(scope, b"host"),
        )
        return await WebsocketDenier()(scope, receive, send)


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return ""


def _origin_tuple(scheme: str, host: str, port) -> tuple[str, str, int]:
    return scheme, host.strip("[]").lower(), int(port or DEFAULT_PORTS[scheme])


def _parse_origin(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) Origin; None for "null" or anything odd."""
    try:
        parts = urlsplit(origin)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        return _origin_tuple(parts.scheme, parts.hostname, parts.port)
    except ValueError:  # a bad port
        return None


def _request_scheme(scope) -> str:
    """http or https, as Django decides for HTTP requests (SECURE_PROXY_SSL_HEADER first)."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, secure_value = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = _header(scope, header)
        if value:
            return "https" if value.split(",")[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") == "wss" else "http"


def same_origin(origin: str, scope) -> bool:
    """The Origin is the request's own scheme, host and port, and the host is allowed."""
    parsed = _parse_origin(origin)
    domain, port = split_domain_port(_header(scope, b"host"))
    if parsed is None or not domain:
        return False
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django's get_host() does
    if not validate_host(domain, allowed):
        return False
    try:
        return parsed == _origin_tuple(_request_scheme(scope), domain, port)
    except ValueError:  # a bad port in the Host header
        return False


def trusted_origin(origin: str) -> bool:
    """The Origin matches one of CSRF_TRUSTED_ORIGINS (`https://*.example.com` for subdomains)."""
    parsed = _parse_origin(origin)
    if parsed is None:
        return False
    for pattern in settings.CSRF_TRUSTED_ORIGINS:
        scheme, _, netloc = pattern.partition("://")
        wildcard = netloc.startswith("*.")
        want = _parse_origin(f"{scheme}://{netloc.removeprefix('*.')}")
        if want is None or (want[0], want[2]) != (parsed[0], parsed[2]):
            continue
        if parsed[1] == want[1] or (wildcard and is_same_domain(parsed[1], "." + want[1])):
            return True
    return False
