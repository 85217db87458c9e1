"""Fixtures for the tests that run real RQ workers in subprocesses (tests/live/fault_stack.py).

`redis_server` is a redis-server of the module's own, apart from the session's `redis_url`:
a test may stop and start it, and workers killed by one module never show in another's.
"""

from __future__ import annotations

import pytest

from mininas_web.redis_server import RedisServer, free_port
from tests.live.fault_stack import FaultStack


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(url="", data_dir=str(tmp_path_factory.mktemp("redis")), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fault_stack(request, tmp_path_factory, redis_server):
    """A FaultStack on the module's Redis with a user and a dataset (`.dataset`); every worker
    it started is killed at the end of the module."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    s = FaultStack(tmp_path_factory.mktemp(name), redis_server.url)
    s.dataset = s.setup()
    yield s
    s.stop_all()
