"""The web server: Uvicorn serving mininas_web.asgi, configured once for the launcher and Docker.

    python -m mininas_web.server [--host H] [--port N] [--header-timeout S] [--body-timeout S]
                                 [--max-connections N]

Uvicorn passes a request body to the application in pieces as it arrives and stops reading the
socket while the application is behind, so a request costs the server a bounded buffer, not its
body; searchapp.limits.BodyLimit refuses an oversized body before Django reads it. WebSockets run
on the `websockets` package's sans-I/O protocol. Behind a proxy (docker-compose.yml's nginx),
FORWARDED_ALLOW_IPS names the proxy whose X-Forwarded-For/-Proto are trusted (default 127.0.0.1).

Slow clients (mininas_web/connections.py): a request head must arrive within HEADER_TIMEOUT
seconds (default 15) and a body may pause at most BODY_TIMEOUT seconds (default 30); at most
MAX_CONNECTIONS connections (default 4096, less if the descriptor limit leaves less) are open,
and at that ceiling the oldest connection not in a request makes room for a new one. The soft
RLIMIT_NOFILE is raised to the hard one at start. The environment variables are the flags'
defaults. Uvicorn's, asyncio's and these warnings pass the RateLimit filter: a flood of one error
writes at most a line a second.
"""

from __future__ import annotations

import argparse
import copy
import logging
import logging.config
import os
import sys

from mininas_web import connections

WS_MAX_SIZE = 64 * 2**10
"""Uvicorn's ceiling on one incoming WebSocket message (its default is 16 MiB): a bigger one
closes the socket with 1009 before Channels buffers it. The consumer's own, finer limit is the
WS_MAX_MESSAGE_BYTES setting; the page sends pings and resync requests of a few dozen bytes."""

GRACEFUL_STOP_SECONDS = 5
"""On SIGTERM, open requests get this long to finish; sockets are closed with 1012 at once."""


HEADER_TIMEOUT = 15.0
BODY_TIMEOUT = 30.0
MAX_CONNECTIONS = 4096


def log_config() -> dict:
    """Uvicorn's logging configuration, with the RateLimit filter on its handlers and asyncio's
    errors (a failing accept() logs one per attempt) and ours on the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"rate_limit": {"()": "mininas_web.logfilters.RateLimit", "seconds": 1.0}}
    for handler in config["handlers"].values():
        handler["filters"] = ["rate_limit"]
    for name in ("asyncio", connections.__name__):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def uvicorn_options(
    host: str,
    port: int,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    ceiling: int = MAX_CONNECTIONS,
    backlog: int = connections.MAX_BACKLOG,
) -> dict:
    """Keyword arguments for uvicorn.run."""
    return {
        "host": host,
        "port": port,
        "http": connections.protocol_class(header_timeout, body_timeout, ceiling),
        "backlog": backlog,
        "log_config": log_config(),
        "ws": "websockets-sansio",
        "ws_max_size": WS_MAX_SIZE,
        "ws_per_message_deflate": False,  # a zlib context per socket costs memory, not worth it
        "lifespan": "off",  # Channels has no lifespan handler
        "proxy_headers": True,
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_STOP_SECONDS,
    }


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mininas_web.server", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    env = os.environ.get  # argparse applies `type` to a string default
    parser.add_argument(
        "--header-timeout",
        type=positive_float,
        default=env("HEADER_TIMEOUT") or HEADER_TIMEOUT,
        help=f"seconds for a request head (HEADER_TIMEOUT, default {HEADER_TIMEOUT:g})",
    )
    parser.add_argument(
        "--body-timeout",
        type=positive_float,
        default=env("BODY_TIMEOUT") or BODY_TIMEOUT,
        help=f"longest pause in a request body (BODY_TIMEOUT, default {BODY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=env("MAX_CONNECTIONS") or MAX_CONNECTIONS,
        help=f"open connections at most (MAX_CONNECTIONS, default {MAX_CONNECTIONS})",
    )
    args = parser.parse_args(argv)
    nofile = connections.raise_nofile_limit()
    try:
        ceiling = connections.connection_ceiling(nofile, args.max_connections)
    except ValueError as exc:
        parser.error(str(exc))
    options = uvicorn_options(
        args.host,
        args.port,
        args.header_timeout,
        args.body_timeout,
        ceiling,
        connections.accept_backlog(nofile),
    )
    logging.config.dictConfig(options["log_config"])
    logging.getLogger(connections.__name__).info(
        "at most %d connections (RLIMIT_NOFILE %d); request head within %g s, body pauses up to %g s",
        ceiling, nofile, args.header_timeout, args.body_timeout,
    )  # fmt: skip
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mininas_web.settings")
    import uvicorn

    uvicorn.run("mininas_web.asgi:application", **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
