"""Real RQ workers in subprocesses on a SQLite file and a Redis of their own, for fault tests.

The test process never touches that database through the ORM (pytest-django's test database
is in memory); it reads the file with sqlite3, and writes through `manage.py shell`.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from mininas_web.launcher import child_pids

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
import json
from django.contrib.auth import get_user_model
from searchapp.storage import create_dataset_from_imagedata
from tests.builders import make_imagedata
u = get_user_model().objects.create_user("alice", password="alice-password")
ds = create_dataset_from_imagedata(u, "pets", make_imagedata(per_class={per_class}), "generated")
print(json.dumps({{"dataset": ds.pk}}))
"""

CREATE = """
import json
from django.db import transaction
from searchapp.searches import enqueue_search
from searchapp.models import Dataset, Search
from searchapp.nas.search import SearchConfig
ds = Dataset.objects.get(pk={dataset})
ids = []
for _ in range({count}):
    with transaction.atomic():
        s = Search.objects.create(owner=ds.owner, dataset=ds,
                                  settings=SearchConfig.from_dict({config!r}).to_dict())
        enqueue_search(s)
    ids.append(s.pk)
print(json.dumps(ids))
"""


class FaultStack:
    """A SQLite file, MEDIA_ROOT and env for workers; start/kill workers at will."""

    def __init__(self, root: Path, redis_url: str, lease: int = 3, reconcile: int = 1):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "db.sqlite3"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mininas_web.settings",
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "MEDIA_ROOT": str(self.root / "media"),
            "REDIS_URL": redis_url,
            "RUN_DIR": str(self.root / "run"),  # never a running `make run`'s var/run/redis.url
            "SEARCH_LEASE_SECONDS": str(lease),
            "RECONCILE_SECONDS": str(reconcile),
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "1",
        }
        self.workers: list[subprocess.Popen] = []

    def manage(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def setup(self, per_class: int = 20) -> int:
        self.manage("migrate", "--no-input", "-v", "0")
        out = self.manage("shell", "-c", SETUP.format(per_class=per_class))
        return json.loads(out.strip().splitlines()[-1])["dataset"]

    def create_searches(self, dataset: int, config: dict, count: int = 1) -> list[int]:
        code = CREATE.format(dataset=dataset, config=config, count=count)
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    # -- workers --------------------------------------------------------------------

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        log = open(self.root / f"{name}-{len(self.workers)}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "gpu",
             "--worker-class", "searchapp.tasks.worker.Worker"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self.workers.append(proc)
        return proc

    def horses(self, worker: subprocess.Popen) -> list[int]:
        return child_pids(worker.pid)

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """kill -9 the worker and its work-horse, as a crash or an OOM killer would."""
        for pid in self.horses(worker):
            _kill(pid)
        _kill(worker.pid)
        worker.wait(timeout=10)

    def stop_all(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                self.kill_worker(w)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for p in sorted(self.root.glob("worker-*.log")):
            out += [f"== {p.name}"] + p.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    # -- the database -----------------------------------------------------------------

    def query(self, sql: str, *args) -> list[tuple]:
        for _ in range(50):
            try:
                with sqlite3.connect(self.db_path, timeout=5) as db:
                    return db.execute(sql, args).fetchall()
            except sqlite3.OperationalError:  # locked by a writer for a moment
                time.sleep(0.05)
        raise RuntimeError(f"database stayed locked: {sql}")

    def search(self, pk: int) -> dict:
        row = self.query(
            "select status, rq_job_id, error, seq, outputs from searchapp_search where id=?", pk
        )[0]
        return dict(zip(("status", "rq_job_id", "error", "seq", "outputs"), row, strict=True))

    def candidates(self, pk: int) -> list[dict]:
        rows = self.query(
            "select idx, status, record from ("
            " select `index` as idx, status, record from searchapp_candidate where search_id=?"
            ") order by idx",
            pk,
        )
        return [{"index": i, "status": s, "record": json.loads(r or "{}")} for i, s, r in rows]

    def key_events(self, key: str) -> KeyEvents:
        return KeyEvents(self.env["REDIS_URL"], key)

    def wait_for(self, predicate, timeout: float, what: str, interval: float = 0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.log_tail()}")


class KeyEvents:
    """What happens to one Redis key from now on, as keyspace notifications ("del",
    "expired", "expire", ...): tells a key deleted by someone from a key that ran out."""

    def __init__(self, url: str, key: str):
        from redis import Redis

        self.key = key
        self.connection = Redis.from_url(url)
        self.connection.config_set("notify-keyspace-events", "Kgx")  # generic, expired
        self.pubsub = self.connection.pubsub()
        self.pubsub.psubscribe(f"__keyspace@*__:{key}")
        confirmed = self.pubsub.get_message(timeout=30)  # subscribed before the caller acts
        assert confirmed and confirmed["type"] == "psubscribe", confirmed

    def wait(self, events: tuple[str, ...], timeout: float) -> str:
        """The first of `events` that happens to the key (other events are passed over)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                message = self.pubsub.get_message(timeout=1)
                if message and message["type"] == "pmessage":
                    event = message["data"].decode()
                    if event in events:
                        return event
        finally:
            self.pubsub.close()
            self.connection.close()
        raise AssertionError(f"none of {events} happened to {self.key} in {timeout}s")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
