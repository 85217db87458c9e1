"""The web server's connection ceiling and its arithmetic, the descriptor limit, the server's flags,
and its log: a flood of one asyncio or Uvicorn error writes a line a second, not one per error.

The timeouts and the ceiling against the real server are in tests/live/test_slow_clients_live.py.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from mininas_web import connections, server
from mininas_web.connections import accept_backlog, connection_ceiling
from mininas_web.logfilters import kind

ROOT = Path(__file__).resolve().parents[2]


def test_the_ceiling_leaves_descriptors_for_everything_else():
    # this machine's limit: the setting holds, far below it
    assert connection_ceiling(20_000, 4096) == 4096
    reserve = connections.RESERVED_FDS + connections.ACCEPT_PASSES * accept_backlog(20_000)
    assert connection_ceiling(20_000, 50_000) == 20_000 - reserve
    # Docker's usual limit: Uvicorn's backlog, and the rest
    assert accept_backlog(2**20) == 2048
    assert connection_ceiling(2**20, 10**9) == 2**20 - 256 - 3 * 2048
    # a common soft limit of 1024: a smaller backlog, still room for hundreds
    assert accept_backlog(1024) == 64
    assert connection_ceiling(1024, 4096) == 1024 - 256 - 3 * 64
    for nofile in (1024, 4096, 20_000, 65_536, 2**20):
        ceiling = connection_ceiling(nofile, 10**9)
        worst = (
            ceiling + connections.RESERVED_FDS + connections.ACCEPT_PASSES * accept_backlog(nofile)
        )
        assert 0 < ceiling and worst <= nofile


def test_too_low_a_descriptor_limit_is_a_clear_error():
    with pytest.raises(ValueError, match=r"RLIMIT_NOFILE 256\).*ulimit -n\) to at least 332$"):
        connection_ceiling(256, 4096)
    assert connection_ceiling(332, 4096) == connections.MIN_CEILING
    out = subprocess.run(
        [sys.executable, "-c", "import resource, runpy, sys;"
         "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256));"
         "sys.argv = ['server']; runpy.run_module('mininas_web.server', run_name='__main__')"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "RLIMIT_NOFILE 256" in out.stderr and "Traceback" not in out.stderr


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lower = min(soft, hard, 4096) // 2
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (lower, hard))
        raised = connections.raise_nofile_limit()
        assert raised == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert raised == hard if hard != resource.RLIM_INFINITY else raised > lower
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize(
    "env, message",
    [
        ({"HEADER_TIMEOUT": "0"}, "--header-timeout: must be a number of seconds above 0"),
        ({"BODY_TIMEOUT": "soon"}, "--body-timeout: invalid positive_float value: 'soon'"),
        ({"MAX_CONNECTIONS": "-5"}, "--max-connections: must be at least 1"),
    ],
)
def test_bad_limits_are_a_one_line_error(env, message):
    out = subprocess.run(
        [sys.executable, "-m", "mininas_web.server"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_uvicorn_gets_the_guarded_protocol_the_ceiling_and_the_log_config():
    options = server.uvicorn_options("127.0.0.1", 8000, 12.0, 34.0, 500, 64)
    protocol = options["http"]
    assert issubclass(protocol, connections.GuardedH11Protocol)
    assert (protocol.header_timeout, protocol.body_timeout, protocol.ceiling) == (12.0, 34.0, 500)
    assert protocol.idle is not server.uvicorn_options("h", 1)["http"].idle  # one table a server
    assert options["backlog"] == 64
    config = options["log_config"]
    assert all(h["filters"] == ["rate_limit"] for h in config["handlers"].values())
    for name in ("asyncio", "mininas_web.connections"):
        assert config["loggers"][name]["handlers"] == ["default"]


def test_messages_that_differ_only_in_numbers_are_one_kind():
    assert kind("Task-12 got fd=7 at 0x7f3a9c\nsecond line 1") == kind(
        "Task-913 got fd=12 at 0xdeadbeef\nsecond line 2"
    )
    assert kind("Exception in callback A") != kind("Exception in callback B")


FLOOD = r"""
import asyncio, errno, logging, logging.config, os, socket, sys, time
os.environ.update(DJANGO_SETTINGS_MODULE="mininas_web.settings", DEBUG="1")
from mininas_web import server
logging.config.dictConfig(server.log_config())  # as uvicorn.run applies it
import django
django.setup()  # then Django applies settings.LOGGING, as the server's application does
loop = asyncio.new_event_loop()
listener = socket.socket()
started = time.monotonic()
for i in range(N):
    try:
        raise OSError(errno.EMFILE, "Too many open files")
    except OSError as exc:
        # what asyncio's accept loop does on every failed accept()
        loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                     "exception": exc, "socket": listener})
        logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=exc)
    logging.getLogger("asyncio").error("Task exception was never retrieved\nfuture: <Task-%d>", i)
    logging.getLogger("mininas_web.connections").warning("%d connections open", 50)
print(time.monotonic() - started)
"""


def test_a_flood_of_asyncio_and_uvicorn_errors_writes_a_line_a_second():
    n = 20_000
    out = subprocess.run(
        [sys.executable, "-c", FLOOD.replace("range(N)", f"range({n})")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    seconds = float(out.stdout.strip().splitlines()[-1])
    per_kind = int(seconds) + 2  # the first of each, then one a second
    log = out.stderr
    for text in (
        "socket.accept() out of system resource",
        "Exception in ASGI application",
        "Task exception was never retrieved",
        "50 connections open",
    ):
        assert 1 <= log.count(text) <= per_kind, (text, seconds, log[-2000:])
    assert log.count("Traceback") <= 2 * per_kind
    assert len(log.splitlines()) < 200 * per_kind  # 4 kinds x 20,000 would be 10^5 and more
    assert "more like this" in log or seconds < 1
