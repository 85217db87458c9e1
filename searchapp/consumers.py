"""The pages' sockets: the owner's snapshot on connect, then the events that jobs broadcast.

A search's socket carries its candidates' and its baselines' events, numbered with the search's
seq; the suite run's socket carries the whole suite page after each dataset (no numbers needed).
"""

from __future__ import annotations

import contextlib
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from .models import Search, SuiteRun
from .serializers import snapshot, suite_snapshot
from .tasks.broadcast import group_name, suite_group

log = logging.getLogger(__name__)


class PageConsumer(AsyncJsonWebsocketConsumer):
    """One object's socket. Subclasses name the URL's id and the group, and load the snapshot."""

    id_kwarg: str

    def group_for(self, pk: int) -> str:
        raise NotImplementedError

    def load_snapshot(self, user, pk: int) -> dict | None:
        """The snapshot of the user's own object, or None (unknown, or someone else's)."""
        raise NotImplementedError

    async def _snapshot(self) -> dict | None:
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            return None
        return await database_sync_to_async(self.load_snapshot)(user, self.pk)

    async def __call__(self, scope, receive, send) -> None:
        """A lost channel layer (Redis restarted) closes the socket with 1012, "service
        restart": the page reconnects and starts again from a snapshot."""
        try:
            await super().__call__(scope, receive, send)
        except RedisError as exc:
            log.warning("socket %s: channel layer lost (%s)", scope.get("path"), exc)
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": 1012})

    async def connect(self) -> None:
        self.pk = int(self.scope["url_route"]["kwargs"][self.id_kwarg])
        self.group = self.group_for(self.pk)
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=4401)
            return
        # Join before reading the snapshot so no event falls between the two.
        await self.channel_layer.group_add(self.group, self.channel_name)
        snap = await self._snapshot()
        if snap is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.close(code=4404)
            return
        await self.accept()
        await self.send_json(snap)

    async def disconnect(self, code) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None  # garbage from a client is ignored, not a crash

    async def receive_json(self, content, **kwargs) -> None:
        """{"type": "resync"} after a gap in seq numbers; {"type": "ping", "seq": n} now and then.

        Both join the group again first: after a Redis restart (or past channels_redis's
        group expiry) the membership is gone, and events would stop without a gap to notice.
        A ping answers with a snapshot when the client is behind (always, for a snapshot
        without a seq), else with a pong.
        """
        if not isinstance(content, dict) or content.get("type") not in ("resync", "ping"):
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        snap = await self._snapshot()
        if snap is None:
            await self.close(code=4404)
            return
        seen, seq = content.get("seq"), snap.get("seq")
        if content["type"] == "ping" and isinstance(seen, int) and seq is not None and seen >= seq:
            await self.send_json({"type": "pong", "seq": seq})
            return
        await self.send_json(snap)

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
