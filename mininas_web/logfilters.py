"""Logging filters that keep a flood of one error from flooding the log (settings.LOGGING, and
the web server's own in mininas_web/server.py)."""

from __future__ import annotations

import logging
import re
import threading
import time


class OneLine(logging.Filter):
    """Drop the traceback: for errors whose message says all (a bad Host header, a client gone)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def kind(msg: object) -> str:
    """What makes messages "the same": the template's first line, numbers and addresses blanked
    (asyncio writes the socket's fd, the task's number or an object's address into its message)."""
    return NUMBERS.sub("#", str(msg).split("\n", 1)[0][:200])


NUMBERS = re.compile(r"0x[0-9a-fA-F]+|\d+")


class RateLimit(logging.Filter):
    """Warnings and errors of one kind (logger, level and `kind` of the message template) pass at
    most once per `seconds`; the next one that passes says how many were left out meanwhile. Other
    levels pass."""

    def __init__(self, seconds: float = 1.0):
        super().__init__()
        self.seconds = seconds
        self._last: dict[tuple, float] = {}
        self._dropped: dict[tuple, int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, kind(record.msg))
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.seconds) < self.seconds:
                self._dropped[key] = self._dropped.get(key, 0) + 1
                return False
            self._last[key] = now
            dropped = self._dropped.pop(key, 0)
            if len(self._last) > 10_000:  # many kinds: forget the old ones
                self._last = {k: t for k, t in self._last.items() if now - t < self.seconds}
        if dropped:
            record.msg = f"{record.msg} [{dropped} more like this in the last second(s) not logged]"
        return True
