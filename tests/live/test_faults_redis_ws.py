"""A Redis restart under an open search page: the job's events are saved to the database and
their broadcast fails quietly; the page gets back in step from a snapshot, with no seq gap,
and receives live events again afterwards."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from mininas_web.redis_server import RedisServer, free_port
from searchapp.routing import websocket_urlpatterns
from tests.web.sockets import record_phase

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_redis(tmp_path, settings):
    server = RedisServer(url="", data_dir=str(tmp_path / "redis"), port=free_port())
    server.start()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [server.url], "capacity": 1000, "expiry": 60},
        }
    }
    yield server
    server.stop()


class Page:
    """The browser's logic from static/js/live.js: apply in order, resync on a gap,
    reconnect when the socket closes, ping now and then."""

    def __init__(self, user, search_id):
        self.user, self.search_id = user, search_id
        self.last_seq = -1
        self.applied: list[int] = []  # seq of each event applied live
        self.snapshots: list[int] = []
        self.closes: list[int] = []
        self.comm = None

    async def connect(self, tries: int = 6):
        """Connect, retrying with backoff as the page does (a pooled connection to the old
        Redis may fail once more, and the server closes with 1012 again)."""
        for attempt in range(tries):
            self.comm = WebsocketCommunicator(
                URLRouter(websocket_urlpatterns), f"/ws/searches/{self.search_id}/"
            )
            self.comm.scope["user"] = self.user
            connected, code = await self.comm.connect(timeout=15)
            if connected:
                await self.receive()
                return
            self.closes.append(code)
            await asyncio.sleep(0.1 * 2**attempt)
        raise AssertionError(f"could not reconnect: {self.closes}")

    async def receive(self, timeout=30.0) -> dict | None:  # an event, even on a busy machine
        try:
            out = await self.comm.receive_output(timeout)
        except TimeoutError:
            return None
        if out["type"] == "websocket.close":
            self.closes.append(out.get("code"))  # the page will reconnect (with backoff)
            return {"type": "closed", "code": out.get("code")}
        msg = json.loads(out["text"])
        if msg["type"] == "snapshot":
            self.last_seq = msg["seq"]
            self.snapshots.append(msg["seq"])
        elif msg["type"] == "pong":
            pass
        elif msg["seq"] > self.last_seq + 1:
            await self.comm.send_json_to({"type": "resync"})
        elif msg["seq"] == self.last_seq + 1:
            self.last_seq = msg["seq"]
            self.applied.append(msg["seq"])
        return msg

    async def ping(self):
        await self.comm.send_json_to({"type": "ping", "seq": self.last_seq})


async def _two_events(page, search):
    await page.connect()
    assert page.last_seq == 0
    await record_phase(search.pk, "depth")
    await record_phase(search.pk, "width")
    await page.receive()
    await page.receive()
    assert page.applied == [1, 2]


async def test_a_page_gets_back_in_step_after_a_redis_restart(alice, search, own_redis):
    page = Page(alice, search.pk)
    await _two_events(page, search)

    own_redis.stop()  # the group and its members are gone with it
    await record_phase(search.pk, "op")  # saved; the broadcast fails and is swallowed
    closed = await page.receive()  # the socket closes with 1012; the page reconnects...
    assert closed == {"type": "closed", "code": 1012}
    own_redis.start()
    await page.connect()  # ...once Redis is back (the browser retries with backoff)
    assert page.snapshots == [0, 3]  # "op" came with the snapshot

    await record_phase(search.pk, "kernel")  # live again
    msg = await page.receive()
    assert (msg["type"], msg["seq"]) == ("search.phase", 4)
    assert page.applied == [1, 2, 4] and page.last_seq == 4  # 3 via the snapshot: no gap
    await page.comm.disconnect()


async def test_a_page_gets_back_in_step_after_redis_is_flushed(alice, search, own_redis):
    import redis

    page = Page(alice, search.pk)
    await _two_events(page, search)

    redis.Redis.from_url(own_redis.url).flushall()  # group membership gone, sockets open
    await record_phase(search.pk, "op")  # sent to a group with no members: silence, no gap
    assert await page.comm.receive_nothing(timeout=1)

    await page.ping()  # the page's periodic ping: rejoins the group, gets what it missed
    msg = await page.receive()
    assert msg["type"] == "snapshot" and msg["seq"] == 3 and msg["search"]["phase"] == "op"

    await record_phase(search.pk, "kernel")  # live again
    msg = await page.receive()
    assert (msg["type"], msg["seq"]) == ("search.phase", 4)
    assert page.applied == [1, 2, 4] and page.snapshots == [0, 3] and page.last_seq == 4

    await page.ping()  # up to date: a pong, no snapshot
    assert (await page.receive())["type"] == "pong"
    await page.comm.disconnect()
