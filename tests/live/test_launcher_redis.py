"""The launcher's Redis: a generated password, and a URL file that commands in other shells read."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import redis

from mininas_web.launcher import Stack
from mininas_web.redis_server import free_port
from tests.live.fault_stack import FaultStack


@pytest.fixture
def launcher_redis(tmp_path):
    """Redis started as `make run` starts it, with var/run/ under tmp_path."""
    stack = Stack(
        log_dir=tmp_path / "log",
        port=free_port(),
        env={"REDIS_URL": ""},
        redis_dir=tmp_path / "redis",
        redis_url_file=tmp_path / "run" / "redis.url",
    )
    stack.redis.start()
    yield stack.redis
    stack.redis.stop()


def test_it_needs_a_password_that_only_its_user_can_read(launcher_redis):
    url_file = launcher_redis.url_file
    assert url_file.read_text().strip() == launcher_redis.url
    assert stat.S_IMODE(url_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(url_file.parent.stat().st_mode) == 0o700
    cmdline = Path(f"/proc/{launcher_redis.process.pid}/cmdline").read_bytes()
    assert launcher_redis.password.encode() not in cmdline
    with pytest.raises(redis.RedisError, match="(?i)authenticat"):
        redis.Redis(host="127.0.0.1", port=launcher_redis.port).ping()
    assert redis.Redis.from_url(launcher_redis.url).ping()


def test_a_command_from_another_shell_queues_on_the_launchers_redis(tmp_path, launcher_redis):
    other_shell = FaultStack(tmp_path / "shell", redis_url="")  # REDIS_URL unset, as in a terminal
    other_shell.env["RUN_DIR"] = str(launcher_redis.url_file.parent)
    dataset = other_shell.setup(per_class=4)
    out = other_shell.manage("search", str(dataset), "--epochs", "1")
    assert "queued" in out
    search = other_shell.search(int(out.split()[1].rstrip(":")))
    assert search["status"] == "queued" and not search["error"]
    assert redis.Redis.from_url(launcher_redis.url).exists(f"rq:job:{search['rq_job_id']}")


def test_the_url_file_goes_when_redis_stops(launcher_redis):
    url_file = launcher_redis.url_file
    launcher_redis.stop()
    assert not url_file.exists()
