"""The channel layer's receive() ends when cancelled, whenever the cancel lands (real Redis).

Plain channels_redis on Python 3.11 loses a cancel that lands while redis-py is writing a
command (asyncio.wait_for, CPython gh-86296): the receive then runs forever. A socket that is
refused or closed just after it opens cancels its receive at exactly that moment.
"""

from __future__ import annotations

import asyncio

from mininas_web.channel_layer import RedisChannelLayer

TRIES = 200


async def test_a_cancelled_receive_always_ends(redis_url):
    layer = RedisChannelLayer(
        hosts=[{"address": redis_url, "socket_timeout": 30, "socket_connect_timeout": 5}]
    )
    stuck = 0
    for i in range(TRIES):
        channel = await layer.new_channel()
        receive = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0.0002 * (i % 8))  # cancel at many points of its first steps
        receive.cancel()
        done, _ = await asyncio.wait([receive], timeout=30)  # at once, even on a busy machine
        stuck += not done
    await layer.flush()
    assert stuck == 0, f"{stuck} of {TRIES} cancelled receives still running"
