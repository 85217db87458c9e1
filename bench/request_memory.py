"""The web server's memory while clients send huge request bodies, on loopback.

    python bench/request_memory.py [--big-mib 1024] [--clients 10] [--each-mib 100] [--json-out F]

Starts the real web server as the launcher does (Uvicorn + searchapp.limits.BodyLimit, Redis, a
SQLite file in a temporary folder; no worker), with the default limits: UPLOAD_MAX_REQUEST_BYTES
(1 GiB) on the upload routes, REQUEST_MAX_BYTES (1 MiB) elsewhere. Then, one scenario at a time,
clients POST multipart bodies generated on the fly (the client never holds a body in memory),
with a Content-Length or chunked, and send all of it whatever the server answers, as an attacker
would. A thread samples the server process's RSS every 10 ms.

Prints JSON: the server's idle RSS, and per scenario the status codes, the peak RSS above idle,
the bytes a client had sent when its answer arrived, and the seconds. Target: peak
RSS above idle <= 100 MB in every scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live.live_stack import create_user, live_stack, session_for  # noqa: E402

MB = 10**6
MIB = 2**20
PIECE = b"\0" * (256 * 2**10)
BOUNDARY = "mininasbench"
TARGET_MB = 100


def say(text: str) -> None:
    print(f"[request_memory] {text}", file=sys.stderr, flush=True)


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


class RssSampler:
    """Peak RSS of `pid` (bytes) between start() and stop(), sampled every 10 ms."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, proc_kib(self.pid, "VmRSS") * 1024)
            self._stop.wait(0.01)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


async def post(port: int, path: str, size: int, chunked: bool, headers: dict) -> dict:
    """POST a multipart body holding `size` bytes of file; send all of it unless cut off."""
    prefix = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    suffix = f"\r\n--{BOUNDARY}--\r\n".encode()
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(prefix) + size + len(suffix)}")  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    sent = 0
    answered_at: int | None = None

    async def read_answer() -> tuple[int, bytes]:
        nonlocal answered_at
        raw = await reader.readuntil(b"\r\n\r\n")
        answered_at = sent
        lines = raw.decode("latin-1").split("\r\n")
        fields = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        body = await reader.readexactly(int(fields.get("content-length", "0")))
        return int(lines[0].split()[1]), body

    def frame(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    answer = asyncio.create_task(read_answer())
    error = None
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + frame(prefix))
        while sent < size:
            piece = PIECE[: min(len(PIECE), size - sent)]
            writer.write(frame(piece))
            await writer.drain()
            sent += len(piece)
            await asyncio.sleep(0)  # let read_answer() see an early answer
        writer.write(frame(suffix) + (b"0\r\n\r\n" if chunked else b""))
        await writer.drain()
    except (ConnectionError, OSError) as exc:  # the server closed the connection
        error = type(exc).__name__
    try:
        status, body = await asyncio.wait_for(answer, 300)
    except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
        status, body = None, b""
        error = error or type(exc).__name__
    writer.close()
    return {
        "status": status,
        "answer": body[:80].decode(errors="replace"),
        "answered_after_mib": None if answered_at is None else round(answered_at / MIB, 1),
        "sent_mib": round(sent / MIB, 1),
        "seconds": round(time.monotonic() - started, 2),
        "error": error,
    }


async def scenario(pid, port, path, clients, size, chunked, headers) -> dict:
    idle = proc_kib(pid, "VmRSS") * 1024
    with RssSampler(pid) as rss:
        t0 = time.monotonic()
        results = await asyncio.gather(
            *(post(port, path, size, chunked, headers) for _ in range(clients))
        )
        seconds = time.monotonic() - t0
    return {
        "path": path,
        "clients": clients,
        "body_mib_each": round(size / MIB),
        "transfer": "chunked" if chunked else "content-length",
        "statuses": dict(Counter(str(r["status"]) for r in results)),
        "peak_rss_above_idle_mb": round((rss.peak - idle) / MB, 1),
        "answered_after_mib": {
            "min": min(r["answered_after_mib"] or 0 for r in results),
            "max": max(r["answered_after_mib"] or 0 for r in results),
        },
        "sent_mib_each": max(r["sent_mib"] for r in results),
        "seconds": round(seconds, 1),
        "example_answer": results[0]["answer"],
        "errors": sorted({r["error"] for r in results if r["error"]}),
    }


def warm_up(port: int, headers: dict) -> None:
    """A few ordinary requests, so that idle means "after the first pages were served"."""
    import http.client

    for method, path, hdrs in (
        ("GET", "/accounts/login/", {}),
        ("POST", "/accounts/login/", {}),
        ("GET", "/api/datasets/", headers),
        ("GET", "/datasets/", headers),
    ):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, body=b"x=1" if method == "POST" else None, headers=hdrs)
        conn.getresponse().read()
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=1024, help="the one big body")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients")
    parser.add_argument("--each-mib", type=int, default=100, help="body of each concurrent client")
    parser.add_argument("--json-out", help="also write the JSON here")
    args = parser.parse_args(argv)
    big, each = args.big_mib * MIB, args.each_mib * MIB

    with tempfile.TemporaryDirectory(prefix="mininas-reqmem-") as tmp:
        say("starting Redis and the web server")
        with live_stack(Path(tmp), worker=False, LOG_LEVEL="WARNING") as stack:
            pid, port = stack.children["web"].pid, stack.port
            create_user(stack, "bench", "bench-password-123")
            session = session_for(stack, "bench")
            csrf = secrets.token_hex(16)  # any 32-character secret, sent as cookie and header
            signed_in = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}
            warm_up(port, signed_in)
            time.sleep(1)
            idle = proc_kib(pid, "VmRSS") * 1024
            runs = [  # (name, path, clients, bytes each, chunked, headers)
                (f"anonymous {args.big_mib} MiB to the sign-in page",
                 "/accounts/login/", 1, big, False, {}),
                ("the same, chunked", "/accounts/login/", 1, big, True, {}),
                (f"anonymous {args.big_mib} MiB to the upload API",
                 "/api/datasets/", 1, big, False, {}),
                ("the same, chunked (cut at the upload limit)", "/api/datasets/", 1, big, True, {}),
                (f"{args.clients} x {args.each_mib} MiB to the sign-in page",
                 "/accounts/login/", args.clients, each, False, {}),
                (f"{args.clients} x {args.each_mib} MiB anonymous to the upload API, chunked",
                 "/api/datasets/", args.clients, each, True, {}),
                (f"{args.clients} x {args.each_mib} MiB signed in to the upload API (parsed)",
                 "/api/datasets/", args.clients, each, False, signed_in),
            ]  # fmt: skip
            scenarios = {}
            for name, path, clients, size, chunked, headers in runs:
                say(name)
                scenarios[name] = asyncio.run(
                    scenario(pid, port, path, clients, size, chunked, headers)
                )
                say(json.dumps(scenarios[name]))
            hwm = proc_kib(pid, "VmHWM") * 1024
    worst = max(s["peak_rss_above_idle_mb"] for s in scenarios.values())
    report = {
        "server": "uvicorn (h11) + searchapp.limits.BodyLimit",
        "idle_rss_mb": round(idle / MB, 1),
        "scenarios": scenarios,
        "lifetime_peak_rss_above_idle_mb": round((hwm - idle) / MB, 1),
        "worst_peak_rss_above_idle_mb": worst,
        "target_mb": TARGET_MB,
        "ok": worst <= TARGET_MB,
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
