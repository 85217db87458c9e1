"""A flood of one error writes at most a line a second; a bad Host is a 400 without a traceback."""

import logging

from django.test import Client

from mininas_web.logfilters import OneLine, RateLimit


def _record(msg="accept failed: %s", level=logging.ERROR):
    return logging.LogRecord("asyncio", level, __file__, 1, msg, ("EMFILE",), None)


def test_a_flood_of_one_error_passes_once_a_second(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("mininas_web.logfilters.time.monotonic", lambda: clock[0])
    limit = RateLimit(seconds=1.0)
    passed = sum(limit.filter(_record()) for _ in range(10_000))
    assert passed == 1
    clock[0] += 1.0
    again = _record()
    assert limit.filter(again) and "9999 more like this" in again.getMessage()
    assert limit.filter(_record("another error %s"))  # another kind is not held back
    assert all(limit.filter(_record(level=logging.INFO)) for _ in range(100))  # access lines


def test_a_bad_host_is_a_400_with_one_line_and_no_traceback(db, caplog):
    with caplog.at_level(logging.WARNING, logger="django.security.DisallowedHost"):
        r = Client(HTTP_HOST="evil.example").get("/accounts/login/")
    assert r.status_code == 400
    (record,) = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    handlers = logging.getLogger("django.security.DisallowedHost").handlers
    (handler,) = [h for h in handlers if any(isinstance(f, OneLine) for f in h.filters)]
    assert any(isinstance(f, RateLimit) for f in handler.filters)
    line = handler.format(record)  # the record as that handler wrote it, after its filters
    assert "Invalid HTTP_HOST header" in line and "Traceback" not in line and "\n" not in line
