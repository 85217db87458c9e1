"""Logging filters that keep a flood of one error from flooding the log (settings.LOGGING)."""

from __future__ import annotations

import logging
import threading
import time


class OneLine(logging.Filter):
    """Drop the traceback: for errors whose message says all (a bad Host header, a client gone)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


class RateLimit(logging.Filter):
    """Warnings and errors of one kind (logger and message template) pass at most once per
    `seconds`; the next one that passes says how many were left out meanwhile. Other levels pass."""

    def __init__(self, seconds: float = 1.0):
        super().__init__()
        self.seconds = seconds
        self._last: dict[tuple, float] = {}
        self._dropped: dict[tuple, int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg)[:200])
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
