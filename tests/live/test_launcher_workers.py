"""`python -m mininas_web.launcher --workers N`: N real RQ workers on the queue gpu, one GPU each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from rq import Worker

from mininas_web.launcher import main
from mininas_web.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.live


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_workers_n_starts_n_workers_on_gpu_each_with_its_gpu_and_stops_them_all(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "RUN_DIR": str(tmp_path / "run"),
        "VAR_DIR": str(tmp_path / "var"),
        "REDIS_URL": "",
        "PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    log = open(tmp_path / "launcher.log", "w+")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "mininas_web.launcher", "--workers", "3", "--gpus", "0,1"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 150
        while "Press Ctrl-C" not in (tmp_path / "launcher.log").read_text():
            assert launcher.poll() is None, (tmp_path / "launcher.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "launcher.log").read_text()
            time.sleep(0.5)
        assert (
            "workers:     3 on the queues gpu, default (GPUs 0,1)"
            in (tmp_path / "launcher.log").read_text()
        )
        conn = redis.Redis.from_url((tmp_path / "run" / "redis.url").read_text().strip())
        workers = Worker.all(connection=conn)
        assert len(workers) == 3
        assert all("gpu" in w.queue_names() for w in workers)
        pids = sorted(w.pid for w in workers)
        gpus = sorted(environ_of(pid).get("CUDA_VISIBLE_DEVICES") for pid in pids)
        assert gpus == ["0", "0", "1"]  # round robin over --gpus
        for name in ("worker", "worker-2", "worker-3"):
            assert (tmp_path / "var" / "log" / f"{name}.log").is_file()
        conn.close()
    finally:
        if launcher.poll() is None:
            os.kill(launcher.pid, signal.SIGTERM)
        code = launcher.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "launcher.log").read_text()
    assert not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_a_bad_worker_count_is_a_one_line_error(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--workers", bad])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--workers" in err and "Traceback" not in err
