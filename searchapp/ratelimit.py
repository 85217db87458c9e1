"""Per-user rate limits held in Redis, so that every web process and thread counts together.

A limit is "N units a minute" (images sent to Try it, for one): a budget of N that refills at
one unit every 60/N s (the generic cell rate algorithm). Each key holds one number, the time
(ms, by Redis's clock) at which its budget is full again: a charge of ``cost`` units moves it on
by ``cost`` x 60/N s, and is refused when that would put it more than a minute ahead. A refused
charge takes nothing. The whole step is one Lua script, which Redis runs alone: requests at
once, from any number of processes, get N units between them and no more, then one unit every
60/N s.

When Redis cannot be reached the charge is let through and one warning is logged: the limit is
about fairness, and the memory that a request may cost is bounded in the process itself.
"""

from __future__ import annotations

import logging
import math
import threading

import redis

log = logging.getLogger(__name__)

PREFIX = "mininas:rate"
WINDOW_MS = 60_000
TIMEOUT_S = 2.0
"""Seconds to connect to Redis and to wait for its answer before letting the request through."""

_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local step = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local after = tat + tonumber(ARGV[1]) * step
local wait = after - now - tonumber(ARGV[3])
if wait > 0 then return wait end
redis.call('SET', KEYS[1], after, 'PX', after - now + 1)
return 0
"""


class RateLimited(Exception):
    """Over the limit; ``retry_after`` whole seconds until the charge would pass."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def take(conn: redis.Redis, key: str, cost: int, per_minute: int) -> float:
    """Charge ``cost`` units to ``key`` under a limit of ``per_minute``: 0.0 when taken, else
    the seconds until it would be (nothing is taken then). Raises redis errors."""
    if cost > per_minute:
        raise ValueError(f"a charge of {cost} can never pass a limit of {per_minute} a minute")
    step = math.ceil(WINDOW_MS / per_minute)
    wait_ms = conn.eval(_GCRA, 1, f"{PREFIX}:{key}", cost, step, step * per_minute)
    return int(wait_ms) / 1000.0


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def client(url: str) -> redis.Redis:
    """One client (a connection pool) per Redis URL, with short timeouts."""
    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(
                url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
            )
        return _clients[url]


def charge(key: str, cost: int, per_minute: int, what: str) -> None:
    """Take ``cost`` of ``what`` (e.g. "images") from ``key``'s minute, on the settings' Redis;
    raises RateLimited with the reason and the seconds to wait."""
    from django.conf import settings

    try:
        wait = take(client(settings.REDIS_URL), key, cost, per_minute)
    except redis.RedisError as exc:
        log.warning("rate limit %s not checked: Redis unavailable (%s)", key, exc)
        return
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(
            f"too many {what}: at most {per_minute} a minute; try again in {seconds} s", seconds
        )
