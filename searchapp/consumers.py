"""The search page's socket: a snapshot on connect, then numbered events from the worker."""

from __future__ import annotations

import contextlib
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from .broadcast import group_name
from .models import Search
from .serializers import snapshot

log = logging.getLogger(__name__)


@database_sync_to_async
def _snapshot_for(user, search_id: int) -> dict | None:
    """The snapshot of the user's own search, or None (unknown, or someone else's)."""
    if not user or not user.is_authenticated:
        return None
    search = Search.objects.select_related("dataset", "best").filter(pk=search_id, owner=user)
    search = search.first()
    return snapshot(search) if search else None


class SearchConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send) -> None:
        """A lost channel layer (Redis restarted) closes the socket with 1012, "service
        restart": the page reconnects and starts again from a snapshot."""
        try:
            await super().__call__(scope, receive, send)
        except RedisError as exc:
            log.warning("socket of search %s: channel layer lost (%s)", scope.get("path"), exc)
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": 1012})

    async def connect(self) -> None:
        self.search_id = int(self.scope["url_route"]["kwargs"]["search_id"])
        self.group = group_name(self.search_id)
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=4401)
            return
        # Join before reading the snapshot so no event falls between the two.
        await self.channel_layer.group_add(self.group, self.channel_name)
        snap = await _snapshot_for(user, self.search_id)
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
        A ping answers with a snapshot when the client is behind, else with a pong.
        """
        if not isinstance(content, dict) or content.get("type") not in ("resync", "ping"):
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        snap = await _snapshot_for(self.scope.get("user"), self.search_id)
        if snap is None:
            await self.close(code=4404)
            return
        seen = content.get("seq")
        if content["type"] == "ping" and isinstance(seen, int) and seen >= snap["seq"]:
            await self.send_json({"type": "pong", "seq": snap["seq"]})
            return
        await self.send_json(snap)

    async def search_event(self, event: dict) -> None:
        await self.send_json(event["message"])
