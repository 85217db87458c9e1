"""The web server: Uvicorn serving mininas_web.asgi, configured once for the launcher and Docker.

    python -m mininas_web.server [--host H] [--port N]

Uvicorn passes a request body to the application in pieces as it arrives and stops reading the
socket while the application is behind, so a request costs the server a bounded buffer, not its
body; searchapp.limits.BodyLimit refuses an oversized body before Django reads it. WebSockets run
on the `websockets` package's sans-I/O protocol. Behind a proxy (docker-compose.yml's nginx),
FORWARDED_ALLOW_IPS names the proxy whose X-Forwarded-For/-Proto are trusted (default 127.0.0.1).
"""

from __future__ import annotations

import argparse
import os
import sys

WS_MAX_SIZE = 64 * 2**10
"""Uvicorn's ceiling on one incoming WebSocket message (its default is 16 MiB): a bigger one
closes the socket with 1009 before Channels buffers it. The consumer's own, finer limit is the
WS_MAX_MESSAGE_BYTES setting; the page sends pings and resync requests of a few dozen bytes."""

GRACEFUL_STOP_SECONDS = 5
"""On SIGTERM, open requests get this long to finish; sockets are closed with 1012 at once."""


def uvicorn_options(host: str, port: int) -> dict:
    """Keyword arguments for uvicorn.run."""
    return {
        "host": host,
        "port": port,
        "http": "h11",
        "ws": "websockets-sansio",
        "ws_max_size": WS_MAX_SIZE,
        "ws_per_message_deflate": False,  # a zlib context per socket costs memory, not worth it
        "lifespan": "off",  # Channels has no lifespan handler
        "proxy_headers": True,
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_STOP_SECONDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mininas_web.server", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mininas_web.settings")
    import uvicorn

    uvicorn.run("mininas_web.asgi:application", **uvicorn_options(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
