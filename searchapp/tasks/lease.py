"""One live runner per search: a lease in Redis that the running job keeps renewing.

The job takes `mininas:search:<id>:lease` with SET NX and a TTL, and a daemon thread renews
it every third of SEARCH_LEASE_SECONDS. A job killed with -9 stops renewing, so the lease
expires and the reconciler may queue the search again. After a Redis restart the key is gone;
the thread takes it again within a renewal period (the reconciler waits for Redis to have been
up for a whole lease before it judges anyone). If another job holds it, this job has lost the
search: `lost` turns true and the job stops without finishing the search.

A candidate's claim is the same kind of lease on another key (redis_protocol.py names the keys
and their values).
"""

from __future__ import annotations

import logging
import threading

import redis
from django.conf import settings

from .redis_protocol import holder_of, holder_value, lease_key

log = logging.getLogger(__name__)

# KEYS[1] the lease; ARGV[1] our value; ARGV[2] ttl in ms. Returns 1 held, 0 lost to another.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def holder(connection: redis.Redis, search_id: int) -> str | None:
    """The job id holding the search's lease, or None."""
    return holder_of(connection.get(lease_key(search_id)))


def release_held_by(connection: redis.Redis, key: str, job_id: str) -> bool:
    """Drop the lease or claim ``key`` if ``job_id`` holds it (the worker does this when that
    job's work-horse died)."""
    value = connection.get(key)
    if holder_of(value) == job_id:
        return bool(connection.eval(_RELEASE, 1, key, value))
    return False


def release_for_job(connection: redis.Redis, search_id: int, job_id: str) -> bool:
    """Drop the search's lease if ``job_id`` holds it."""
    return release_held_by(connection, lease_key(search_id), job_id)


class Lease:
    """Held while a job runs a search; `lost` says another runner has taken it."""

    def __init__(
        self, connection: redis.Redis, search_id: int, job_id: str | None, key: str | None = None
    ):
        self.connection = connection
        self.search_id = search_id
        self.key = key or lease_key(search_id)  # another key: a candidate's claim
        self.value = holder_value(job_id)
        self.ttl_ms = max(1000, int(settings.SEARCH_LEASE_SECONDS * 1000))
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the lease and start renewing it; False if another runner holds it."""
        if not self.connection.set(self.key, self.value, nx=True, px=self.ttl_ms):
            return False
        self._thread = threading.Thread(
            target=self._renew_forever, name=f"lease-{self.search_id}", daemon=True
        )
        self._thread.start()
        return True

    def _renew_forever(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                held = self.connection.eval(_RENEW, 1, self.key, self.value, self.ttl_ms)
            except redis.RedisError as exc:  # Redis restarting: keep training, try again
                log.warning("could not renew the lease of search %s: %s", self.search_id, exc)
                continue
            if not held:
                log.error("search %s: another job took over; stopping", self.search_id)
                self.lost = True
                return

    def settle(self, value: str, ttl_s: int) -> None:
        """Stop renewing and leave ``value`` in the key for ``ttl_s`` (a candidate's claim
        says "done", so a stale copy of its job never trains it again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.connection.set(self.key, value, ex=ttl_s)
        except redis.RedisError as exc:
            log.warning("could not settle %s: %s", self.key, exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.connection.eval(_RELEASE, 1, self.key, self.value)
        except redis.RedisError as exc:  # it expires on its own
            log.warning("could not release the lease of search %s: %s", self.search_id, exc)
