"""channels_redis's layer, with a receive() that ends when it is cancelled.

On Python 3.11, asyncio.wait_for() loses a cancellation that arrives just as the awaited call
completes (CPython gh-86296, fixed in 3.12). redis-py wraps its socket writes in wait_for()
when socket_timeout is set, so a socket whose consumer stops at that moment (one refused or
closed right after it opened: a quick client does it every time) left its receive() running
forever, holding a Redis connection, and the server's shutdown waited for it. Here the
cancellation is repeated until the inner receive() has ended.
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis import core

log = logging.getLogger(__name__)
RECANCEL_SECONDS = 0.1
RECANCEL_TRIES = 100


class RedisChannelLayer(core.RedisChannelLayer):
    async def receive(self, channel):
        inner = asyncio.ensure_future(super().receive(channel))
        try:
            return await asyncio.shield(inner)
        except asyncio.CancelledError:
            for _ in range(RECANCEL_TRIES):
                if inner.done():
                    break
                inner.cancel()
                await asyncio.wait([inner], timeout=RECANCEL_SECONDS)
            else:
                log.warning("channel layer: a cancelled receive on %s did not end", channel)
            if inner.done() and not inner.cancelled():
                inner.exception()  # retrieved: no "exception never retrieved" at exit
            raise
