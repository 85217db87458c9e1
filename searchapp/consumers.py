"""The pages' sockets: the owner's snapshot on connect, then the events that jobs broadcast.

A search's socket carries its candidates' and its baselines' events, numbered with the search's
seq; the suite run's socket carries the whole suite page after each dataset (no numbers needed).

A client cannot crash a socket or make it expensive. Refusals come after the handshake, so a
page sees the code (4401 signed out, 4404 not yours or no such page, 1008 too many sockets).
A binary frame closes the socket (1003), a message over WS_MAX_MESSAGE_BYTES too (1009);
malformed or deeply nested JSON is ignored. Snapshots (resync, or a ping from a client that
is behind) are sent at most once per WS_SNAPSHOT_INTERVAL_MS: requests in between are
coalesced into one answer at the end of the interval. A user may hold
WS_MAX_SOCKETS_PER_USER sockets per server process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from typing import ClassVar

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from .models import Search, SuiteRun
from .serializers import snapshot, suite_snapshot
from .tasks.broadcast import group_name, suite_group

log = logging.getLogger(__name__)

# Close codes: RFC 6455's, and 4000 + an HTTP status for the app's own.
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
SERVICE_RESTART = 1012
SIGNED_OUT = 4401
NOT_FOUND = 4404
MAX_PK = 2**63 - 1  # larger ids cannot be in the database (and SQLite would raise)


class PageConsumer(AsyncJsonWebsocketConsumer):
    """One object's socket. Subclasses name the URL's id and the group, and load the snapshot."""

    id_kwarg: str
    open_sockets: ClassVar[Counter] = Counter()  # user id -> sockets open in this process

    def group_for(self, pk: int) -> str:
        raise NotImplementedError

    def load_snapshot(self, user, pk: int) -> dict | None:
        """The snapshot of the user's own object, or None (unknown, or someone else's)."""
        raise NotImplementedError

    async def __call__(self, scope, receive, send) -> None:
        """A lost channel layer (Redis restarted) closes the socket with 1012, "service
        restart": the page reconnects and starts again from a snapshot."""
        self.group = self.holder = self.timer = self.pending = None
        self.next_snapshot = 0.0
        self.closed = False
        try:
            await self._guarded(super().__call__(scope, receive, send), send)
        finally:
            self._release()
            if self.timer is not None:
                self.timer.cancel()

    async def _guarded(self, work, send) -> None:
        try:
            await work
        except RedisError as exc:
            log.warning("socket %s: channel layer lost (%s)", self.scope.get("path"), exc)
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": SERVICE_RESTART})

    # ------------------------------------------------------------------------- connect

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.pk = int(self.scope["url_route"]["kwargs"][self.id_kwarg])
        if not user or not user.is_authenticated:
            return await self.refuse(SIGNED_OUT)
        if self.pk > MAX_PK:
            return await self.refuse(NOT_FOUND)
        if not self._claim(user):
            log.warning("socket %s: user %s has too many sockets", self.scope["path"], user.pk)
            return await self.refuse(POLICY_VIOLATION)
        self.group = self.group_for(self.pk)
        # Join before reading the snapshot so no event falls between the two.
        await self.channel_layer.group_add(self.group, self.channel_name)
        snap = await self._snapshot()
        if snap is None:
            return await self.refuse(NOT_FOUND)
        await self.accept()
        await self.send_json(snap)
        self.next_snapshot = time.monotonic() + self.snapshot_interval()

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code`: a code sent before the handshake never reaches the
        page (the server answers 403 and the browser reports 1006)."""
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        await self.accept()
        await self.close(code=code)

    async def close(self, code=None, reason=None) -> None:
        """Close once; nothing is sent after it (a server refuses a send past the close)."""
        if self.closed:
            return
        self.closed = True
        self._release()  # its place is free from now on, whatever the client does
        if self.timer is not None and self.timer is not asyncio.current_task():
            self.timer.cancel()
        await super().close(code=code, reason=reason)

    async def send_json(self, content, close=False) -> None:
        """Drops what comes after the close: an event, or a snapshot loaded meanwhile."""
        if not self.closed:
            await super().send_json(content, close)

    async def disconnect(self, code) -> None:
        self._release()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    def _claim(self, user) -> bool:
        """Count this socket against the user's limit; False when the limit is reached."""
        if self.open_sockets[user.pk] >= settings.WS_MAX_SOCKETS_PER_USER:
            return False
        self.open_sockets[user.pk] += 1
        self.holder = user.pk
        return True

    def _release(self) -> None:
        if self.holder is not None:
            self.open_sockets[self.holder] -= 1
            if self.open_sockets[self.holder] <= 0:
                del self.open_sockets[self.holder]
            self.holder = None

    # ------------------------------------------------------------------------- messages

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Text frames of at most WS_MAX_MESSAGE_BYTES; anything else closes the socket."""
        if text_data is None:
            return await self._close_for("a binary frame", UNSUPPORTED_DATA)
        limit = settings.WS_MAX_MESSAGE_BYTES
        if len(text_data) > limit or len(text_data.encode("utf-8", "surrogatepass")) > limit:
            return await self._close_for(f"a message over {limit} bytes", MESSAGE_TOO_BIG)
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # garbage, or nested past the parser's stack
            return
        await self.receive_json(content)

    async def _close_for(self, what: str, code: int) -> None:
        log.warning("socket %s: %s; closed with %s", self.scope["path"], what, code)
        await self.close(code=code)

    async def receive_json(self, content, **kwargs) -> None:
        """{"type": "resync"} after a gap in seq numbers; {"type": "ping", "seq": n} now and then.

        Within WS_SNAPSHOT_INTERVAL_MS of the last snapshot a request waits for the end of the
        interval, and the requests that arrive meanwhile are answered once (a resync outranks
        pings; the latest ping's seq counts)."""
        if self.closed or not isinstance(content, dict):
            return
        if content.get("type") not in ("resync", "ping"):
            return
        if self.pending is None or self.pending["type"] != "resync":
            self.pending = content
        wait = self.next_snapshot - time.monotonic()
        if wait <= 0:
            await self._answer()
        elif self.timer is None:
            self.timer = asyncio.create_task(self._answer_later(wait))

    async def _answer_later(self, delay: float) -> None:
        """The coalesced answer, in a task of its own: nothing may escape it unlogged."""
        await asyncio.sleep(delay)
        self.timer = None
        try:
            await self._guarded(self._answer(), self.base_send)
        except OSError:  # the client went away meanwhile (uvicorn's ClientDisconnected)
            pass
        except Exception:
            log.exception("socket %s: the coalesced snapshot failed", self.scope["path"])
            with contextlib.suppress(Exception):
                await self.close(code=1011)

    async def _answer(self) -> None:
        """Join the group again, then a snapshot, or a pong to a ping that is not behind.

        Joining again matters: after a Redis restart (or past channels_redis's group expiry)
        the membership is gone, and events would stop without a gap to notice. A ping
        without a seq always gets a snapshot."""
        request, self.pending = self.pending, None
        self.next_snapshot = time.monotonic() + self.snapshot_interval()
        await self.channel_layer.group_add(self.group, self.channel_name)
        snap = await self._snapshot()
        if snap is None:  # deleted meanwhile
            await self.close(code=NOT_FOUND)
            return
        seen, seq = request.get("seq"), snap.get("seq")
        if request["type"] == "ping" and isinstance(seen, int) and seq is not None and seen >= seq:
            await self.send_json({"type": "pong", "seq": seq})
            return
        await self.send_json(snap)

    @staticmethod
    def snapshot_interval() -> float:
        return settings.WS_SNAPSHOT_INTERVAL_MS / 1000

    async def _snapshot(self) -> dict | None:
        return await database_sync_to_async(self.load_snapshot)(self.scope["user"], self.pk)

    async def search_event(self, event: dict) -> None:
        """A job's message (broadcast.send names every one "search.event")."""
        await self.send_json(event["message"])


class SearchConsumer(PageConsumer):
    """/ws/searches/<id>/: the search page."""

    id_kwarg = "search_id"

    def group_for(self, pk: int) -> str:
        return group_name(pk)

    def load_snapshot(self, user, pk: int) -> dict | None:
        search = Search.objects.select_related("dataset", "best").filter(pk=pk, owner=user).first()
        return snapshot(search) if search else None


class SuiteConsumer(PageConsumer):
    """/ws/suite/<run id>/: the suite page while that run derives the suite."""

    id_kwarg = "run_id"

    def group_for(self, pk: int) -> str:
        return suite_group(pk)

    def load_snapshot(self, user, pk: int) -> dict | None:
        run = SuiteRun.objects.filter(pk=pk, owner=user).first()
        return suite_snapshot(user, run) if run else None


class NoRouteConsumer(AsyncWebsocketConsumer):
    """Any other socket path: a clean 4404, where the router would fail the handshake (500)."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=NOT_FOUND)
