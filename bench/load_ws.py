"""Many browser-like WebSocket viewers on one live search, on loopback.

    python bench/load_ws.py [--clients 200] [--epochs 2] [--timeout 600]

Starts the real stack (Redis, the web server, one RQ worker; files in a temporary folder), signs one
user in, opens N sockets to /ws/searches/<id>/ with the session cookie and an allowed Origin,
then queues a small real search on the digits data. Each client behaves like
static/js/search.js: it applies events in seq order, asks for a snapshot on a gap, and
answers the server's pings. Prints JSON: latency from the worker's commit (`ts` in each
event) to receipt (p50/p95/max), events delivered live / sent, clients in step at the end
(after resync), and the web server process's memory. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mininas_web.launcher import Stack  # noqa: E402
from mininas_web.redis_server import free_port  # noqa: E402
from tests.live.live_stack import session_for  # noqa: E402

SETUP = """
import json
from django.contrib.auth import get_user_model
from searchapp.models import Search
from searchapp.nas.demo_data import digits
from searchapp.nas.search import SearchConfig
from searchapp.storage import create_dataset_from_imagedata
u = get_user_model().objects.create_user("viewer", password="viewer-password")
ds = create_dataset_from_imagedata(u, "digits", digits(16, [0, 1, 2]), "sklearn digits")
cfg = {"min_depth": 3, "max_depth": 5, "min_width": 8, "max_width": 16, "width_step": 8,
       "kernels": [3, 5], "epochs": EPOCHS, "device": "cpu", "seed": 0}
s = Search.objects.create(owner=u, dataset=ds, settings=SearchConfig.from_dict(cfg).to_dict())
print(json.dumps({"search": s.pk}))
"""

ENQUEUE = """
from django.db import transaction
from searchapp.searches import enqueue_search
from searchapp.models import Search
with transaction.atomic():
    enqueue_search(Search.objects.get(pk=PK))
"""

FINAL = """
import json
from searchapp.models import Search
s = Search.objects.get(pk=PK)
print(json.dumps({"seq": s.seq, "status": s.status, "candidates": s.candidates.count()}))
"""


# ----------------------------------------------------------------------------- a tiny client


class Socket:
    """A minimal RFC 6455 client: text frames, masked sends, ping -> pong, close."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int, path: str, headers: dict) -> Socket:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        return cls(reader, writer)

    async def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)
        await self.writer.drain()

    async def send_json(self, obj: dict) -> None:
        await self._send(0x1, json.dumps(obj).encode())

    async def recv(self) -> str | None:
        """The next text message; None once the server closes."""
        parts: list[bytes] = []
        while True:
            b1, b2 = await self.reader.readexactly(2)
            fin, opcode, n = b1 & 0x80, b1 & 0x0F, b2 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            if b2 & 0x80:
                mask = await self.reader.readexactly(4)
                data = bytes(
                    b ^ mask[i % 4] for i, b in enumerate(await self.reader.readexactly(n))
                )
            else:
                data = await self.reader.readexactly(n)
            if opcode == 0x8:
                return None
            if opcode == 0x9:
                await self._send(0xA, data)
                continue
            if opcode in (0x1, 0x0):
                parts.append(data)
                if fin:
                    return b"".join(parts).decode()

    def close(self) -> None:
        self.writer.close()


class Viewer:
    """One open search page: reconnects on close with backoff, as search.js does."""

    RETRIES = 8

    def __init__(self, n: int, open_socket):
        self.n = n
        self.open_socket = open_socket
        self.socket: Socket | None = None
        self.last_seq = -1
        self.first_seq: int | None = None
        self.live: list[int] = []
        self.latencies: list[float] = []
        self.resyncs = 0
        self.reconnects = 0
        self.done = asyncio.Event()
        self.connected = asyncio.Event()
        self.error = ""

    async def run(self) -> None:
        try:
            for attempt in range(self.RETRIES + 1):
                if attempt:
                    self.reconnects += 1
                    await asyncio.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
                try:
                    self.socket = await asyncio.wait_for(self.open_socket(), 30)
                    await self._read(self.socket)
                except (asyncio.IncompleteReadError, ConnectionError, OSError, TimeoutError) as exc:
                    self.error = f"{type(exc).__name__}: {exc}"
                finally:
                    if self.socket is not None:
                        self.socket.close()
                if self.done.is_set():
                    return
        finally:
            self.done.set()

    async def _read(self, socket: Socket) -> None:
        while True:
            text = await socket.recv()
            if text is None:
                self.error = "closed by the server"
                return
            now = time.time()
            msg = json.loads(text)
            if msg["type"] == "snapshot":
                self.last_seq = msg["seq"]
                if self.first_seq is None:
                    self.first_seq = msg["seq"]
                self.connected.set()
                if msg["search"]["status"] not in ("queued", "running"):
                    self.done.set()
                    return
                continue
            if msg["type"] == "pong" or msg.get("seq", 0) <= self.last_seq:
                continue
            self.latencies.append(now - msg["ts"])
            if msg["seq"] > self.last_seq + 1:
                self.resyncs += 1
                await socket.send_json({"type": "resync"})
                continue
            self.last_seq = msg["seq"]
            self.live.append(msg["seq"])
            if msg["type"] == "search.finished":
                self.done.set()
                return


# ----------------------------------------------------------------------------- the run


def say(text: str) -> None:
    print(f"[load_ws] {text}", file=sys.stderr, flush=True)


def rss_mib(pid: int) -> float:
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except Exception:  # noqa: BLE001 - psutil missing or the process gone
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


async def watch(stack: Stack, search_id: int, session: str, clients: int, timeout: float):
    host, port = "127.0.0.1", stack.port
    headers = {"Origin": f"http://{host}:{port}", "Cookie": f"sessionid={session}"}
    web = stack.children["web"].pid

    def open_socket():
        return Socket.open(host, port, f"/ws/searches/{search_id}/", headers)

    viewers = [Viewer(i, open_socket) for i in range(clients)]
    rss_before = rss_mib(web)
    t0 = time.monotonic()
    tasks = []
    for v in viewers:  # one after another, as page loads would arrive
        tasks.append(asyncio.create_task(v.run()))
        await asyncio.wait_for(v.connected.wait(), 60)
    connect_s = time.monotonic() - t0
    say(f"{clients} viewers connected in {connect_s:.1f}s; queueing the search")
    rss_connected = rss_mib(web)

    await asyncio.to_thread(stack.manage, "shell", "-c", ENQUEUE.replace("PK", str(search_id)))
    peak = rss_connected
    deadline = time.monotonic() + timeout
    while not all(v.done.is_set() for v in viewers) and time.monotonic() < deadline:
        peak = max(peak, rss_mib(web))
        await asyncio.sleep(0.5)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out = stack.manage("shell", "-c", FINAL.replace("PK", str(search_id)))
    final = json.loads(out.strip().splitlines()[-1])

    lat = [x for v in viewers for x in v.latencies]
    sent = sum(final["seq"] - v.first_seq for v in viewers)
    delivered = sum(len(v.live) for v in viewers)
    in_step = sum(1 for v in viewers if v.last_seq == final["seq"])
    return {
        "clients": clients,
        "search": final,
        "connect_seconds": round(connect_s, 2),
        "latency_ms": {
            "p50": round(pct(lat, 50) * 1000, 1),
            "p95": round(pct(lat, 95) * 1000, 1),
            "max": round(max(lat) * 1000, 1) if lat else None,
            "mean": round(statistics.fmean(lat) * 1000, 1) if lat else None,
            "samples": len(lat),
        },
        "events_sent_per_client": final["seq"] - min(v.first_seq for v in viewers),
        "delivered_live": delivered,
        "sent": sent,
        "delivered_live_ratio": round(delivered / sent, 4) if sent else None,
        "resyncs": sum(v.resyncs for v in viewers),
        "reconnects": sum(v.reconnects for v in viewers),
        "clients_in_step_after_resync": in_step,
        "delivery_after_resync": round(in_step / clients, 4),
        "client_errors": sorted({v.error for v in viewers if v.error})[:5],
        "web_rss_mib": {
            "before": round(rss_before, 1),
            "connected": round(rss_connected, 1),
            "peak": round(peak, 1),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2, help="per candidate of the search")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the search")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 2000:
        parser.error("--clients must be in [1, 2000]")

    with tempfile.TemporaryDirectory(prefix="mininas-load-") as tmp:
        root = Path(tmp)
        env = {
            "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
            "MEDIA_ROOT": str(root / "media"),
            "REDIS_URL": "",
            "DEBUG": "1",
            "LOG_LEVEL": "WARNING",
            "WS_MAX_SOCKETS_PER_USER": str(args.clients),  # all viewers are one user
        }
        stack = Stack(log_dir=root / "log", port=free_port(), env=env, redis_dir=root / "redis")
        try:
            say("starting Redis, the web server and a worker")
            stack.start()
            say(f"stack up at {stack.url}; creating the user, data and search")
            out = stack.manage("shell", "-c", SETUP.replace("EPOCHS", str(args.epochs)))
            ids = json.loads(out.strip().splitlines()[-1])
            ids["session"] = session_for(stack, "viewer")
            report = asyncio.run(
                watch(stack, ids["search"], ids["session"], args.clients, args.timeout)
            )
        finally:
            stack.stop()
    report["target"] = {"p95_ms": 1000, "delivery_after_resync": 1.0}
    report["ok"] = report["latency_ms"]["p95"] <= 1000 and report["delivery_after_resync"] == 1.0
    print(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
