"""The web server's memory while clients send huge request bodies, or uploads that decode big.

    python bench/request_memory.py [--big-mib 1024] [--clients 10] [--each-mib 100] [--json-out F]
    python bench/request_memory.py --only packing [--pack-images 700] [--pack-side 512]
    python bench/request_memory.py --only tryit

Starts the real web server as the launcher does (Uvicorn + searchapp.limits.BodyLimit, Redis, a
SQLite file in a temporary folder; no worker), with the default limits: UPLOAD_MAX_REQUEST_BYTES
(1 GiB) on the upload routes, REQUEST_MAX_BYTES (1 MiB) elsewhere. Then, one scenario at a time,
clients POST multipart bodies generated on the fly (the client never holds a body in memory),
with a Content-Length or chunked, and send all of it whatever the server answers, as an attacker
would. A thread samples the server process's RSS every 10 ms.

The "packing" scenarios (`--only packing` runs just those; the stack then has one RQ worker, and
PACK_MAX_PER_USER is raised to 8 so that one user may send four at once) upload a zip of 700
solid-colour 512x512 PNGs asking for a 512 px working resolution, one at a time and then four at
once, and follow each dataset through the JSON API until a worker has packed it; the web
server's RSS is sampled the whole time, from the first byte sent to the last dataset ready.

Prints JSON: the server's idle RSS, and per scenario the status codes, the peak RSS above idle,
the bytes a client had sent when its answer arrived, and the seconds. Target: peak
RSS above idle <= 100 MB in every scenario.

`--only tryit` runs the scenarios of the section "Try it and the mistakes' images" below
instead (a finished search with a real model.onnx, made in the stack's database the way the
tests make one): eight signed-in Try it requests at once, each of sixteen 4096x4096 32-bit TIFFs
(zstd, 27 KB each); the same with five 3072x2048 32-bit TIFFs each, at PREDICT_MAX_PIXELS; and six
clients at once fetching the 200 mistakes' images of a search whose test split is 25,000 images
(307 MB unpacked). A client of another user loads the sign-in page every 50 ms meanwhile; its
slowest answer is reported. Idle is measured after one small prediction (ONNX Runtime loaded).
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


def solid_zip(images: int, side: int) -> bytes:
    """`images` PNGs of side x side px, each one solid random colour, in 10 class folders,
    stored in a zip (PNGs hardly compress again): 700 of 512 px make about 1.4 MB."""
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(images):
            png = io.BytesIO()
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            Image.new("RGB", (side, side), colour).save(png, "PNG")
            zf.writestr(f"solid/class{i % 10}/{i:05d}.png", png.getvalue())
    return buf.getvalue()


def _multipart(fields: dict, name: str, raw: bytes) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/zip\r\n\r\n".encode()
        + raw
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def post_zip(port: int, body: bytes, headers: dict) -> dict:
    """POST one zip upload; its status, its dataset's id and status, and the seconds."""
    head = [
        "POST /api/datasets/ HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 300)
    lines = raw.decode("latin-1").split("\r\n")
    fields = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    answer = json.loads(await reader.readexactly(int(fields.get("content-length", "0"))))
    writer.close()
    dataset = answer.get("dataset") or {}
    return {
        "status": int(lines[0].split()[1]),
        "dataset": dataset.get("id"),
        "dataset_status": dataset.get("status"),
        "error": answer.get("error"),
        "seconds": round(time.monotonic() - started, 2),
    }


def dataset_status(port: int, pk: int, headers: dict) -> dict:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/api/datasets/{pk}/", headers=headers)
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body["dataset"]


def packing_scenario(pid, port, clients: int, raw: bytes, side: int, headers: dict) -> dict:
    """`clients` zip uploads at once, each followed through the API until a worker packed it
    (polled every 0.2 s); the server's RSS is sampled throughout."""
    body = _multipart({"name": "solid", "max_side": side}, "solid.zip", raw)
    idle = proc_kib(pid, "VmRSS") * 1024

    async def upload_all() -> list[dict]:
        return await asyncio.gather(*(post_zip(port, body, headers) for _ in range(clients)))

    with RssSampler(pid) as rss:
        t0 = time.monotonic()
        results = asyncio.run(upload_all())
        answered = time.monotonic() - t0
        ids = [r["dataset"] for r in results if r["dataset"]]
        final: dict[int, dict] = {}
        deadline = time.monotonic() + 1800  # a failure bound
        while len(final) < len(ids) and time.monotonic() < deadline:
            for pk in ids:
                if (
                    pk not in final
                    and (d := dataset_status(port, pk, headers))["status"] != "packing"
                ):
                    final[pk] = d
            time.sleep(0.2)
        packed = time.monotonic() - t0
    return {
        "path": "/api/datasets/",
        "clients": clients,
        "zip_mb_each": round(len(raw) / MB, 2),
        "statuses": dict(Counter(str(r["status"]) for r in results)),
        "answered_as": sorted({str(r["dataset_status"] or r["error"]) for r in results}),
        "answer_seconds_max": round(max(r["seconds"] for r in results), 2),
        "peak_rss_above_idle_mb": round((rss.peak - idle) / MB, 1),
        "all_packed_seconds": round(packed, 1),
        "answered_seconds": round(answered, 2),
        "datasets": sorted(
            f"{d['status']}: {d['num_train'] + d['num_test']} images of {d['image_size']} px"
            + (f" ({d['error']})" if d["error"] else "")
            for d in final.values()
        ),
        "unpacked": len(ids) - len(final),
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
    parser.add_argument(
        "--only",
        choices=("all", "bodies", "packing", "tryit"),
        default="all",
        help="which scenarios (tryit: Try it and the mistakes' images, on a stack of their own)",
    )
    parser.add_argument("--pack-images", type=int, default=700, help="PNGs in the packing zip")
    parser.add_argument("--pack-side", type=int, default=512, help="their side, and max_side")
    parser.add_argument("--json-out", help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.only == "tryit":
        return predict_main(args)
    big, each = args.big_mib * MIB, args.each_mib * MIB
    packing = args.only in ("all", "packing")

    with tempfile.TemporaryDirectory(prefix="mininas-reqmem-") as tmp:
        say("starting Redis and the web server" + (" and a worker" if packing else ""))
        env = {"LOG_LEVEL": "WARNING", "PACK_MAX_PER_USER": "8"}
        with live_stack(Path(tmp), worker=packing, **env) as stack:
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
            ] if args.only in ("all", "bodies") else []  # fmt: skip
            scenarios = {}
            for name, path, clients, size, chunked, headers in runs:
                say(name)
                scenarios[name] = asyncio.run(
                    scenario(pid, port, path, clients, size, chunked, headers)
                )
                say(json.dumps(scenarios[name]))
            if packing:
                raw = solid_zip(args.pack_images, args.pack_side)
                what = (
                    f"{args.pack_images} x {args.pack_side}px solid PNGs ({len(raw) / MB:.1f} MB)"
                )
                for clients in (1, 4):
                    name = f"{clients} x zip of {what}, max_side {args.pack_side}, until packed"
                    say(name)
                    scenarios[name] = packing_scenario(
                        pid, port, clients, raw, args.pack_side, signed_in
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
        "ok": worst <= TARGET_MB and all(not s.get("unpacked") for s in scenarios.values()),
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return 0 if report["ok"] else 1


# ----------------------------------------------------------------------------- Try it and the
# mistakes' images: a finished search with a real model.onnx, requests that decode or read images


PREDICT_SETUP = """
import json, shutil
import numpy as np
from django.contrib.auth import get_user_model
from searchapp.models import Search
from searchapp.nas.imagedata import ImageData
from searchapp.nas.search import SearchConfig
from searchapp.storage import create_dataset_from_imagedata, search_dir, write_mistake_images
from tests.builders import TINY_SEARCH, make_imagedata
P = json.loads(PARAMS)
owner = get_user_model().objects.get(username=P["user"])
config = SearchConfig.from_dict(TINY_SEARCH).to_dict()
small = create_dataset_from_imagedata(owner, "small", make_imagedata(size=32), "bench")
s = Search.objects.create(owner=owner, dataset=small, settings=config, status="finished")
search_dir(s.pk).mkdir(parents=True)
shutil.copy(P["onnx"], search_dir(s.pk) / "model.onnx")
s.outputs = {"onnx": f"searches/{s.pk}/model.onnx"}
s.save()
n = P["test_images"]
x = np.zeros((n, 64, 64, 3), np.uint8)
x[:, ::4, ::4] = (np.arange(n) % 251).astype(np.uint8)[:, None, None, None]
y = np.arange(n) % 2
big = create_dataset_from_imagedata(
    owner, "big", ImageData(x[:64].copy(), y[:64].copy(), x, y, ["a", "b"]), "bench"
)
wrong = list(range(0, n, n // 200))[:200]
final = {"test_acc": 50.0, "classes": ["a", "b"], "misclassified_total": len(wrong),
         "misclassified": [{"index": i, "true": "a", "pred": "b", "confidence": 0.9} for i in wrong]}
m = Search.objects.create(owner=owner, dataset=big, settings=config, status="finished", final=final)
write_mistake_images(m.pk, x, wrong)  # as the job that finishes a search does
print(json.dumps({"predict": s.pk, "mistakes": m.pk, "wrong": wrong}))
"""


def export_onnx(path: Path) -> None:
    """A real Mini-NAS network (untrained, 2 classes, 32 px), exported as the search job does."""
    import torch

    from searchapp.nas.export import Classifier
    from searchapp.nas.export import export_onnx as export
    from searchapp.nas.model import build_model
    from searchapp.nas.space import Arch

    torch.manual_seed(0)
    arch = Arch.from_dict({"depth": 5, "width": 32, "ops": ["sep"] * 5, "kernels": [3] * 5,
                           "stem": "cifar"})  # fmt: skip
    model = Classifier(build_model(arch, 3, 2), [0.5] * 3, [0.25] * 3, None).eval()
    export(model, 32, path)


def tiff_32bit(width: int, height: int) -> bytes:
    """A 32-bit (mode I) TIFF, zstd: 4096x4096 is 27 KB on the wire, 64 MiB decoded."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("I", (width, height)).save(buf, "TIFF", compression="zstd")
    return buf.getvalue()


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body of `files` in the field 'image', and its Content-Type."""
    parts = []
    for name, raw in files:
        head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; '
                f'filename="{name}"\r\nContent-Type: image/tiff\r\n\r\n')  # fmt: skip
        parts.append(head.encode() + raw + b"\r\n")
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


async def request(port: int, method: str, path: str, headers: dict, body: bytes = b"") -> tuple:
    """One HTTP/1.1 request: (status, body bytes, seconds)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    fields = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    answer = await reader.readexactly(int(fields.get("content-length", "0")))
    writer.close()
    return int(lines[0].split()[1]), answer, time.monotonic() - started


async def other_user_pages(port: int, stop: asyncio.Event) -> list[float]:
    """Seconds of each sign-in page load, one every 50 ms until `stop`."""
    seconds = []
    while not stop.is_set():
        seconds.append((await request(port, "GET", "/accounts/login/", {}))[2])
        await asyncio.sleep(0.05)
    return seconds


async def measured(pid: int, port: int, calls) -> dict:
    """Run the coroutines `calls` at once beside the page client; statuses, peak RSS, seconds."""
    idle = proc_kib(pid, "VmRSS") * 1024
    stop = asyncio.Event()
    with RssSampler(pid) as rss:
        t0 = time.monotonic()
        pages = asyncio.create_task(other_user_pages(port, stop))
        results = await asyncio.gather(*calls)
        seconds = time.monotonic() - t0
        stop.set()
        page_seconds = await pages
    statuses = Counter(str(st) for r in results for st in (r if isinstance(r, list) else [r[0]]))
    first = results[0] if isinstance(results[0], tuple) else None  # (status, body, seconds)
    return {
        "statuses": dict(statuses),
        "peak_rss_above_idle_mb": round((rss.peak - idle) / MB, 1),
        "seconds": round(seconds, 1),
        "other_user_page_seconds": {
            "max": round(max(page_seconds), 3),
            "median": round(sorted(page_seconds)[len(page_seconds) // 2], 3),
            "loads": len(page_seconds),
        },  # fmt: skip
        "example_answer": first[1][:120].decode(errors="replace") if first else "",
    }


async def fetch_all(port: int, paths: list[str], headers: dict) -> list[int]:
    return [(await request(port, "GET", p, headers))[0] for p in paths]


def predict_main(args) -> int:
    """The Try it and mistakes scenarios on one stack; JSON like main()'s."""
    with tempfile.TemporaryDirectory(prefix="mininas-reqmem-") as tmp:
        onnx = Path(tmp) / "model.onnx"
        say("exporting a model.onnx")
        export_onnx(onnx)
        say("starting Redis and the web server")
        env = {"LOG_LEVEL": "WARNING", "PREDICT_IMAGES_PER_MINUTE": "100000"}  # memory, not 429s
        with live_stack(Path(tmp) / "stack", worker=False, **env) as stack:
            pid, port = stack.children["web"].pid, stack.port
            create_user(stack, "bench", "bench-password-123")
            params = {"user": "bench", "onnx": str(onnx), "test_images": 25_000}
            say("making a finished search and a 25,000-image test split with its mistakes")
            out = stack.manage("shell", "-c", f"PARAMS = {json.dumps(params)!r}\n" + PREDICT_SETUP)
            made = json.loads(out.strip().splitlines()[-1])
            csrf = secrets.token_hex(16)
            signed_in = {"Cookie": f"sessionid={session_for(stack, 'bench')}; csrftoken={csrf}",
                         "X-CSRFToken": csrf}  # fmt: skip
            warm_up(port, signed_in)
            url = f"/api/searches/{made['predict']}/predict/"
            body, ctype = multipart([("warm.tif", tiff_32bit(64, 64))])
            first = asyncio.run(
                request(port, "POST", url, signed_in | {"Content-Type": ctype}, body)
            )
            assert first[0] == 200, first
            time.sleep(1)
            idle = proc_kib(pid, "VmRSS") * 1024
            hwm_at_idle = proc_kib(pid, "VmHWM") * 1024
            scenarios = {}
            for name, size, count in (
                ("8 x Try it, 16 4096x4096 32-bit TIFFs each", (4096, 4096), 16),
                ("8 x Try it, 5 3072x2048 32-bit TIFFs each (at PREDICT_MAX_PIXELS)",
                 (3072, 2048), 5),
            ):  # fmt: skip
                body, ctype = multipart([(f"{i}.tif", tiff_32bit(*size)) for i in range(count)])
                say(f"{name}: {len(body) / MIB:.2f} MiB a request")
                hdrs = signed_in | {"Content-Type": ctype}
                calls = [request(port, "POST", url, hdrs, body) for _ in range(8)]
                scenarios[name] = asyncio.run(measured(pid, port, calls))
                scenarios[name]["body_mib_each"] = round(len(body) / MIB, 2)
                say(json.dumps(scenarios[name]))
            name = "6 clients x the 200 mistakes' images (25,000-image test split)"
            paths = [f"/searches/{made['mistakes']}/test-images/{i}.png" for i in made["wrong"]]
            say(name)
            calls = [fetch_all(port, paths[k::6], signed_in) for k in range(6)]
            scenarios[name] = asyncio.run(measured(pid, port, calls))
            say(json.dumps(scenarios[name]))
            hwm = proc_kib(pid, "VmHWM") * 1024
    worst = max(s["peak_rss_above_idle_mb"] for s in scenarios.values())
    report = {
        "server": "uvicorn (h11), one worker",
        "idle_rss_mb": round(idle / MB, 1),
        "idle_after": "one small prediction (ONNX Runtime loaded)",
        "peak_before_idle_above_idle_mb": round((hwm_at_idle - idle) / MB, 1),
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
