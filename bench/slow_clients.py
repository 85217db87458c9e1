"""The web server under a flood of clients that never finish their request head, on loopback.

    python bench/slow_clients.py [--connections 20000] [--sources 4] [--json-out F]

Starts the real web server as `make run` does (Uvicorn with mininas_web/connections.py, Redis, a
SQLite file in a temporary folder; no worker; default HEADER_TIMEOUT, BODY_TIMEOUT and
MAX_CONNECTIONS). A normal client, in a process of its own, GETs the sign-in page on a new
connection every 100 ms: for 5 s before the flood, during it, and 5 s after. The flood opens
`--connections` connections from 127.0.0.2.. (`--sources` addresses, so the ephemeral ports
suffice), each sending half a request head and then nothing, as fast as the server accepts them,
and holds each until the server closes it. A thread samples the server's RSS and open
descriptors every 100 ms.

Prints JSON: the server's descriptor limit and connection ceiling; how the flood's connections
ended (closed at the ceiling to make room, refused with 503, timed out with 408, connect failed,
still open); the normal client's success rate and p50/p95 latency before, during and after the
flood (and the ratios during/before); the lines web.log got during the flood and its tracebacks;
the server's RSS and descriptor peaks; how long until every slow connection was closed.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import http.client
import json
import multiprocessing
import os
import re
import resource
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live.live_stack import live_stack  # noqa: E402

HEAD = b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
IN_FLIGHT = 256  # connects under way at once
QUIET_SECONDS = 5  # the normal client's "before" and "after"
MB = 10**6


def say(text: str) -> None:
    print(f"[slow_clients] {text}", file=sys.stderr, flush=True)


def normal_client(port: int, stop, out) -> None:
    """GET the sign-in page on a new connection every 100 ms until `stop`: (start, seconds,
    None or what went wrong) each."""
    results = []
    while not stop.is_set():
        started = time.monotonic()
        error = None
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/accounts/login/")
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                error = f"HTTP {response.status}"
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
        results.append((started, time.monotonic() - started, error))
        stop.wait(max(0.0, 0.1 - (time.monotonic() - started)))
    out.send(results)


class Sampler:
    """Peak RSS (bytes) and open descriptors of `pid`, every 100 ms."""

    def __init__(self, pid: int):
        self.pid = pid
        self.rss_peak = self.fd_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> tuple[int, int]:
        status = Path(f"/proc/{self.pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) * 1024
        return rss, len(os.listdir(f"/proc/{self.pid}/fd"))

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, fds = self.sample()
            self.rss_peak, self.fd_peak = max(self.rss_peak, rss), max(self.fd_peak, fds)
            self._stop.wait(0.1)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def flood(port: int, count: int, sources: list[str], deadline: float) -> dict:
    """Open `count` slow connections and hold each until the server closes it."""
    sel = selectors.DefaultSelector()
    ends = {"closed_at_ceiling": 0, "refused_503": 0, "timed_out_408": 0, "connect_failed": 0}
    held_for: list[float] = []
    opened = in_flight = 0
    started = time.monotonic()
    all_opened = last_closed = None

    def finish(sock, state, outcome) -> None:
        nonlocal last_closed
        sel.unregister(sock)
        sock.close()
        ends[outcome] += 1
        last_closed = time.monotonic()
        if state["since"] is not None:
            held_for.append(last_closed - state["since"])

    while time.monotonic() < deadline:
        while opened < count and in_flight < IN_FLIGHT:
            sock = socket.socket()
            sock.setblocking(False)
            sock.bind((sources[opened % len(sources)], 0))
            err = sock.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                ends["connect_failed"] += 1
            else:
                sel.register(sock, selectors.EVENT_WRITE, {"since": None, "data": b""})
                in_flight += 1
            opened += 1
        if opened == count and all_opened is None:
            all_opened = time.monotonic()
        if not sel.get_map():
            break
        for key, events in sel.select(timeout=0.5):
            sock, state = key.fileobj, key.data
            if state["since"] is None:  # the connect finished
                in_flight -= 1
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    finish(sock, state, "connect_failed")
                    continue
                state["since"] = time.monotonic()
                with contextlib.suppress(OSError):
                    sock.send(HEAD)
                sel.modify(sock, selectors.EVENT_READ, state)
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            state["data"] += data
            if not data:
                answer = state["data"][:12]
                outcome = {b"HTTP/1.1 408": "timed_out_408", b"HTTP/1.1 503": "refused_503"}
                finish(sock, state, outcome.get(answer, "closed_at_ceiling"))
    still_open = len(sel.get_map())
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    end = all_opened or time.monotonic()
    return {
        "connections": count,
        "source_addresses": len(sources),
        "seconds_to_open_all": round(end - started, 1),
        "established": count - ends["connect_failed"],
        **ends,
        "still_open_at_the_end": still_open,
        "all_closed_after_the_last_opened_s": (
            round(last_closed - end, 1) if last_closed and not still_open else None
        ),
        "longest_held_s": round(max(held_for), 1) if held_for else None,
        "median_held_s": round(statistics.median(held_for), 2) if held_for else None,
    }


def summary(samples: list[tuple[float, float, str | None]]) -> dict:
    ok = sorted(seconds for _, seconds, error in samples if error is None)
    q = (lambda p: round(1000 * ok[min(len(ok) - 1, int(p * len(ok)))], 1)) if ok else None
    return {
        "requests": len(samples),
        "ok": len(ok),
        "success_rate": round(len(ok) / len(samples), 3) if samples else None,
        "p50_ms": q(0.5) if q else None,
        "p95_ms": q(0.95) if q else None,
        "errors": dict(Counter(error for _, _, error in samples if error)),
    }


def raise_own_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((need, max(need, hard)), (hard, hard)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def server_nofile(pid: int) -> int:
    limits = Path(f"/proc/{pid}/limits").read_text()
    return int(re.search(r"Max open files\s+(\d+)", limits).group(1))


def measure(stack, args) -> dict:
    pid, port, log = stack.children["web"].pid, stack.port, stack.log("web")
    sampler = Sampler(pid)
    idle_rss, idle_fds = sampler.sample()
    stop = multiprocessing.Event()
    receiving, sending = multiprocessing.Pipe(duplex=False)
    client = multiprocessing.Process(target=normal_client, args=(port, stop, sending))
    client.start()
    time.sleep(QUIET_SECONDS)
    log_before = log.read_bytes()
    sources = [f"127.0.0.{2 + i}" for i in range(args.sources)]
    with sampler:
        say(f"flood: {args.connections} connections from {', '.join(sources)}")
        flood_start = time.monotonic()
        result = flood(port, args.connections, sources, flood_start + args.max_seconds)
        flood_end = time.monotonic()
        say(json.dumps(result))
    log_during = log.read_bytes()[len(log_before) :].decode(errors="replace")
    time.sleep(QUIET_SECONDS)
    stop.set()
    samples = receiving.recv()
    client.join()
    before = summary([s for s in samples if s[0] < flood_start])
    during = summary([s for s in samples if flood_start <= s[0] < flood_end])
    after = summary([s for s in samples if s[0] >= flood_end])
    ceiling = re.search(r"at most (\d+) connections", log.read_text()).group(1)
    ratio = (  # noqa: E731
        lambda key: round(during[key] / before[key], 2) if during[key] and before[key] else None
    )
    return {
        "server": "uvicorn (h11) + mininas_web/connections.py, defaults as in `make run`",
        "server_rlimit_nofile": server_nofile(pid),
        "connection_ceiling": int(ceiling),
        "flood": result,
        "flood_seconds": round(flood_end - flood_start, 1),
        "normal_client": {
            "before": before,
            "during": during,
            "after": after,
            "p50_during_vs_before": ratio("p50_ms"),
            "p95_during_vs_before": ratio("p95_ms"),
        },
        "web_log_during_flood": {
            "lines": len(log_during.splitlines()),
            "bytes": len(log_during.encode()),
            "tracebacks": log_during.count("Traceback"),
            "ceiling_warnings": log_during.count("connections open (the ceiling)"),
        },
        "server_rss_mb": {
            "idle": round(idle_rss / MB, 1),
            "peak": round(sampler.rss_peak / MB, 1),
        },
        "server_fds": {"idle": idle_fds, "peak": sampler.fd_peak},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--sources", type=int, default=4, help="source addresses 127.0.0.2..")
    parser.add_argument("--max-seconds", type=float, default=300, help="give up after this")
    parser.add_argument("--json-out", help="also write the JSON here")
    args = parser.parse_args(argv)
    own = raise_own_limit(args.connections + 1024)
    if own < args.connections + 64:
        say(f"at most {own} of the flood's connections can be open at once here")

    with tempfile.TemporaryDirectory(prefix="mininas-slow-") as tmp:
        say("starting Redis and the web server")
        with live_stack(Path(tmp), worker=False) as stack:
            report = measure(stack, args)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
