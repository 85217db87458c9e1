"""Slow clients cannot hold the web server: Uvicorn's h11 protocol with read timeouts and a ceiling.

`protocol_class(...)` returns the class that mininas_web/server.py hands to Uvicorn as `http=`.

- **Header timeout.** A connection that has not sent a complete request head within
  `header_timeout` seconds (from when it opened, or from the first byte of its next request on a
  kept-alive connection) gets a 408 and is closed. Until that byte, Uvicorn's own
  `timeout_keep_alive` closes an idle kept-alive connection.
- **Body timeout.** While a request body is due, `body_timeout` seconds without a byte of it close
  the connection (a 408 if the response has not started), and the application's receive() gets
  `http.disconnect`. Time while the server itself stops reading (the application is behind, or
  the client waits for `100 Continue`) does not count.
- **Ceiling.** At most `ceiling` connections are open at once (WebSockets included). At the
  ceiling a new connection takes the place of the oldest one that is not in a request (still
  sending its head, or idle between requests), which is closed; only when every connection is in
  a request or is a WebSocket is the new one refused with a short 503. A flood of clients that
  never finish their head therefore cycles through the slots, while a real client, which sends
  its head at once, is served. The first closing of each kind is logged, then at most one line a
  second (the RateLimit filter on the handler).
- **Lingering close.** Closing a connection whose request body is still coming (an early answer
  such as searchapp.limits' 401 or 413, to a client that sent `Connection: close`, as nginx
  does) would reset it (RST) over the unread data, and the client could lose the answer (nginx
  answers 502). Instead, as nginx's own `lingering_close`, the answer is sent and the write side
  shut (a FIN after it), then what comes in is read and dropped, never buffered, until the
  client closes, pauses LINGER_TIMEOUT seconds, or LINGER_TIME seconds or LINGER_BYTES pass.
  Meanwhile the connection counts toward the ceiling, as one not in a request.
- WebSockets are long-lived: once upgraded, none of these timeouts applies.

The ceiling stays under the process's descriptor limit (`connection_ceiling`), so `accept()`
never fails with EMFILE.
"""

from __future__ import annotations

import logging
import resource

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

RESERVED_FDS = 256
"""Descriptors kept for all but client connections: the listening socket, Redis and database
connections, log files, the event loop, files the application opens."""
ACCEPT_PASSES = 3
"""The event loop accepts up to `backlog` connections in one pass before the protocol sees any of
them, and closes refused ones a pass later: this many passes' worth is kept free as well."""
MAX_BACKLOG = 2048  # Uvicorn's default
MIN_CEILING = 16
LINGER_TIMEOUT = 5.0
"""Seconds without a byte that end a lingering close (nginx's `lingering_timeout`)."""
LINGER_TIME = 30.0
"""Seconds a lingering close lasts at most (nginx's `lingering_time`)."""
LINGER_BYTES = 2**30
"""Bytes a lingering close drops at most: the largest upload the app takes (UPLOAD_MAX_REQUEST_BYTES'
default), so a client that sends its whole body before it reads still gets the answer."""

REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nrequest timeout\n"
)
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 32\r\nconnection: close\r\nretry-after: 1\r\n\r\n"
    b"too many connections; try again\n"
)


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit where allowed; the soft limit after it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit (macOS) cannot be the soft one; a large number can.
    targets = [hard] if hard != resource.RLIM_INFINITY else [2**20, 10240]
    for target in targets:
        if target <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def accept_backlog(nofile: int) -> int:
    """Listen backlog, which is also how many connections one loop pass may accept."""
    return max(16, min(MAX_BACKLOG, nofile // 16))


def connection_ceiling(nofile: int, setting: int) -> int:
    """min(setting, what the descriptor limit leaves for client connections).

    ValueError, with the reason, when the limit leaves fewer than MIN_CEILING.
    """
    room = _room(nofile)
    if room < MIN_CEILING:
        need = next(n for n in range(nofile, nofile + 10 * RESERVED_FDS) if _room(n) >= MIN_CEILING)
        raise ValueError(
            f"the descriptor limit (RLIMIT_NOFILE {nofile}) leaves room for {max(room, 0)} "
            f"connections; raise it (ulimit -n) to at least {need}"
        )
    return min(setting, room)


def _room(nofile: int) -> int:
    return nofile - RESERVED_FDS - ACCEPT_PASSES * accept_backlog(nofile)


def protocol_class(header_timeout: float, body_timeout: float, ceiling: int) -> type[H11Protocol]:
    """A GuardedH11Protocol subclass with these limits and its own table of idle connections."""
    attrs = {
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "ceiling": ceiling,
        "idle": {},
    }
    return type("GuardedH11Protocol", (GuardedH11Protocol,), attrs)


class GuardedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with the header and body timeouts and the connection ceiling."""

    header_timeout: float = 15.0
    body_timeout: float = 30.0
    ceiling: int = 4096
    idle: dict[GuardedH11Protocol, None] = {}
    """Connections not in a request, oldest first: the ones given up at the ceiling."""

    _refused = False
    _upgraded = False
    _header_timer = None
    _body_timer = None
    _last_read = 0.0
    _lingering = False
    _no_linger = False
    _linger_timer = None
    _linger_end = 0.0
    _dropped = 0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.ceiling and not self._make_room():
            self._refused = True
            transport.write(UNAVAILABLE)
            transport.abort()
            log.warning(
                "%d connections open (the ceiling), none idle: a new one was refused (503)",
                self.ceiling,
            )
            return
        super().connection_made(LingeringTransport(transport, self))
        self.idle[self] = None
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _make_room(self) -> bool:
        """Close the oldest connection that is not in a request; False when there is none."""
        if not self.idle:
            return False
        oldest = next(iter(self.idle))
        oldest._forget()
        self.connections.discard(oldest)
        oldest.transport.abort()
        log.warning(
            "%d connections open (the ceiling): the oldest idle one was closed to make room",
            self.ceiling,
        )
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._forget()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_read = self.loop.time()
        if self._lingering:  # dropped
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self._end_linger(hard=True)
            return
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            # Idle until its next request: Uvicorn's keep-alive timer runs; newest in `idle`.
            self._cancel_header_timer()
            self.idle.pop(self, None)
            self.idle[self] = None
        self._track()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._upgraded = True
        self._forget()
        self.transport = self.transport.raw  # the socket's protocol gets the plain transport
        super().handle_websocket_upgrade(event)

    def shutdown(self) -> None:
        self._no_linger = True  # the server stops: close at once
        if self._lingering:
            self._end_linger(hard=False)
            return
        super().shutdown()

    def linger(self) -> bool:
        """At a close: False to close at once, or True, and the close lingers, when the answer has
        been sent while the request body is still coming."""
        cycle = self.cycle
        raw = self.transport.raw
        if (
            self._lingering
            or self._no_linger
            or cycle is None
            or not cycle.response_complete
            or self.conn.their_state is not h11.SEND_BODY
            or raw.is_closing()
        ):
            return False
        self._lingering = True
        self._forget()
        self.idle[self] = None  # answered: the first to make room at the ceiling
        if raw.can_write_eof():
            raw.write_eof()  # a FIN once the answer is flushed: the client reads it, then stops
        self.flow.resume_reading()
        raw.resume_reading()
        self._last_read = now = self.loop.time()
        self._linger_end = now + LINGER_TIME
        self._linger_timer = self.loop.call_later(LINGER_TIMEOUT, self._linger_check)
        return True

    def _linger_check(self) -> None:
        self._linger_timer = None
        now = self.loop.time()
        if now >= self._linger_end:
            self._end_linger(hard=True)
        elif now - self._last_read >= LINGER_TIMEOUT:
            self._end_linger(hard=False)
        else:
            left = min(self._last_read + LINGER_TIMEOUT, self._linger_end) - now
            self._linger_timer = self.loop.call_later(left, self._linger_check)

    def _end_linger(self, hard: bool) -> None:
        """Close; at a cap, an answer the client has not read yet is dropped too."""
        raw = self.transport.raw
        self._forget()
        if hard and raw.get_write_buffer_size():
            raw.abort()
        else:
            raw.close()

    def _track(self) -> None:
        """Follow the request's phase: the head (timer armed), the body (timer), or the app's turn."""
        if self._upgraded or self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:  # no request yet, or between requests
            self.idle.setdefault(self, None)
            # Uvicorn's keep-alive timer ends when a byte of the next request arrives.
            if self._header_timer is None and self.timeout_keep_alive_task is None:
                self._header_timer = self.loop.call_later(
                    self.header_timeout, self._header_timed_out
                )
            return
        self.idle.pop(self, None)
        self._cancel_header_timer()
        if state is h11.SEND_BODY and self._body_timer is None:  # a body begins
            self._last_read = self.loop.time()
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_check)

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()

    def _body_check(self) -> None:
        self._body_timer = None
        if self._upgraded or self.transport.is_closing():
            return
        if self.conn.their_state is not h11.SEND_BODY:
            return  # the body is complete; data_received arms the timer for the next one
        now = self.loop.time()
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            self._last_read = now  # the server, not the client, is the one waiting
        quiet = now - self._last_read
        if quiet < self.body_timeout:
            self._body_timer = self.loop.call_later(self.body_timeout - quiet, self._body_check)
            return
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's receive() gets http.disconnect
            cycle.message_event.set()
            if not cycle.response_started:
                self.transport.write(REQUEST_TIMEOUT)
        self.transport.raw.close()  # at once: the client has stopped sending

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _forget(self) -> None:
        """No more timers of ours, and out of the idle table."""
        self._cancel_header_timer()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        self.idle.pop(self, None)


class LingeringTransport:
    """The connection's transport as Uvicorn's code sees it: close() may linger
    (GuardedH11Protocol.linger), and a lingering connection is closing."""

    def __init__(self, raw, protocol: GuardedH11Protocol) -> None:
        self.raw = raw
        self._protocol = protocol

    def __getattr__(self, name: str):
        return getattr(self.raw, name)

    def close(self) -> None:
        if not self._protocol.linger():
            self.raw.close()

    def is_closing(self) -> bool:
        return self._protocol._lingering or self.raw.is_closing()
