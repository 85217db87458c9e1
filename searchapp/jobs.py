"""The RQ job: the only place where the engine meets Django, RQ and Channels.

The engine (and with it torch) is imported inside the job, never at module import, so the
worker's parent process never touches CUDA before RQ forks a job.
"""

from __future__ import annotations

import errno
import logging
import shutil
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import broadcast
from .lease import Lease
from .models import Candidate, Search
from .serializers import best_json, candidate_json, search_json
from .storage import media_path, search_dir

log = logging.getLogger(__name__)

QUEUE = "gpu"
CANCEL_POLL_SECONDS = 0.5  # should_stop may be called per batch; the DB is asked at most this often

RECORD_FIELDS = (
    "phase",
    "arch",
    "key",
    "params",
    "macs",
    "train_acc",
    "test_acc",
    "loss_curve",
    "epochs",
    "batch_size",
    "seconds",
    "device",
    "accepted",
    "reason",
    "status",
)


def enqueue_search(search: Search) -> None:
    """Queue the search once the current transaction commits (the worker must see the row)."""
    job_id = f"search-{search.pk}-{uuid.uuid4().hex[:8]}"
    Search.objects.filter(pk=search.pk).update(rq_job_id=job_id)
    search.rq_job_id = job_id
    search_id = search.pk

    def _enqueue() -> None:
        import django_rq

        try:
            # commit_mode "auto": we are already past the commit; don't defer a second time.
            django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(
                run_search_job,
                search_id,
                job_id=job_id,
                job_timeout=settings.SEARCH_JOB_TIMEOUT,
                result_ttl=7 * 24 * 3600,
                failure_ttl=30 * 24 * 3600,
            )
        except Exception as exc:  # noqa: BLE001 - Redis down: say so on the search itself
            log.error("could not enqueue search %s: %s", search_id, exc)
            fail_search(search_id, f"could not queue the search: {exc}")

    transaction.on_commit(_enqueue)


def cancel_job(search: Search) -> None:
    """Ask a search to stop: a running job sees the flag within an epoch; a queued one ends now."""
    Search.objects.filter(pk=search.pk).update(cancel_requested=True)
    search.cancel_requested = True
    if search.status != Search.QUEUED:
        return
    if search.rq_job_id:
        try:
            import django_rq
            from rq.job import Job

            job = Job.fetch(search.rq_job_id, connection=django_rq.get_connection(QUEUE))
            job.cancel()
        except Exception as exc:  # noqa: BLE001 - the job checks the flag when it starts anyway
            log.info("could not cancel rq job %s: %s", search.rq_job_id, exc)
    _finish(search.pk, Search.CANCELLED)


def run_search_job(search_id: int) -> dict:
    """Run (or resume) one search; every event is saved, numbered and broadcast.

    Only the job named in `search.rq_job_id` may run the search, and only while it holds the
    search's lease, so a search queued twice (or re-queued by the reconciler while an old job
    still lives) runs once. The others return {"status": "skipped"} without touching it.
    """
    from rq import get_current_job

    job = get_current_job()
    job_id = job.id if job is not None else None  # None: called directly (tests, commands)
    search = Search.objects.select_related("dataset").get(pk=search_id)
    if job_id is not None and search.rq_job_id and search.rq_job_id != job_id:
        log.info("search %s: job %s superseded by %s", search_id, job_id, search.rq_job_id)
        return {"status": "skipped", "reason": f"superseded by job {search.rq_job_id}"}
    if search.status not in Search.ACTIVE:
        return {"status": "skipped", "reason": f"search is already {search.status}"}
    if search.cancel_requested and search.status == Search.QUEUED:
        _finish(search_id, Search.CANCELLED)
        return {"status": Search.CANCELLED}
    lease = Lease(_redis(), search_id, job_id)
    if not lease.acquire():
        return {"status": "skipped", "reason": "another job is running this search"}
    try:
        return _run(search, lease)
    except Exception as exc:
        if lease.lost:
            return {"status": "skipped", "reason": "another job took the search over"}
        log.exception("search %s failed", search_id)
        search.candidates.filter(status=Candidate.RUNNING).delete()  # never finished
        fail_search(search_id, failure_reason(exc))
        raise
    finally:
        lease.release()


def _redis():
    import django_rq

    return django_rq.get_connection(QUEUE)


def failure_reason(exc: BaseException) -> str:
    """A message a user can act on, for the search page."""
    from rq.timeouts import JobTimeoutException

    if isinstance(exc, JobTimeoutException):
        return (
            f"timed out: the search ran longer than its job timeout ({exc}); "
            "raise SEARCH_JOB_TIMEOUT to give searches more time. Finished candidates are kept."
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        name = Path(str(exc.filename or "")).name.lstrip(".").removesuffix(".tmp")
        where = f" while writing {name}" if name else ""
        return f"disk full{where}: {exc.strerror or exc}. Free space and start a new search."
    return f"{type(exc).__name__}: {exc}"


def _run(search: Search, lease: Lease) -> dict:
    from searchapp.nas.data import load_npz
    from searchapp.nas.export import write_outputs
    from searchapp.nas.search import SearchConfig, run_search

    # A candidate left "running" by a killed worker is trained again.
    search.candidates.filter(status=Candidate.RUNNING).delete()
    Search.objects.filter(pk=search.pk).update(
        status=Search.RUNNING,
        started=search.started or timezone.now(),
        finished=None,
        error="",
    )
    data = load_npz(media_path(search.dataset.npz_path))
    config = SearchConfig.from_dict(search.settings)
    records = [c.record for c in search.candidates.order_by("index") if c.record]
    out_dir = search_dir(search.pk)
    work_dir = out_dir / "work"
    work_dir.mkdir(parents=True, exist_ok=True)

    result = run_search(
        data,
        config,
        on_event=EventRecorder(search.pk),
        records=records,
        should_stop=CancelFlag(search.pk, lease),
        work_dir=str(work_dir),
    )
    if lease.lost:  # another job runs the search now; leave everything to it
        return {"status": "skipped", "reason": "another job took the search over"}
    # A candidate interrupted by Cancel never finished; it is not part of the result.
    search.candidates.filter(status=Candidate.RUNNING).delete()
    outputs = {}
    if result.best and result.best_state is not None:
        paths = write_outputs(result, data, out_dir)
        outputs = _relative_outputs(paths)
    shutil.rmtree(work_dir, ignore_errors=True)
    status = Search.CANCELLED if result.cancelled else Search.FINISHED
    best_index = result.best["index"] if result.best else None
    _finish(search.pk, status, outputs=outputs, best_index=best_index)
    return {"status": status, "best": best_index, "candidates": len(result.candidates)}


def _relative_outputs(paths) -> dict:
    """{"pt": ..., "onnx": ..., "json": ...} relative to MEDIA_ROOT, from write_outputs' dict."""
    values = paths.values() if isinstance(paths, dict) else paths
    root = media_path("").resolve()
    outputs = {}
    for p in values:
        p = media_path(str(p)).resolve()  # an absolute path stays as it is
        outputs[p.suffix.lstrip(".")] = p.relative_to(root).as_posix()
    return outputs


def fail_search(search_id: int, error: str) -> None:
    _finish(search_id, Search.FAILED, error=error[:5000])


def _finish(search_id: int, status: str, outputs=None, best_index=None, error: str = "") -> None:
    def apply(search: Search) -> dict:
        search.status = status
        search.finished = timezone.now()
        search.progress = {}
        search.error = error
        if outputs is not None:
            search.outputs = outputs
        if best_index is not None:
            search.best = search.candidates.filter(index=best_index).first() or search.best
        search.save()
        return {"search": search_json(search)}

    broadcast.record(search_id, "search.finished", apply)


class CancelFlag:
    """should_stop(): true once someone pressed Cancel (read from the DB, throttled), or once
    another job has taken the search's lease."""

    def __init__(self, search_id: int, lease: Lease | None = None):
        self.search_id = search_id
        self.lease = lease
        self.checked = 0.0
        self.value = False

    def __call__(self, *args, **kwargs) -> bool:
        if self.lease is not None and self.lease.lost:
            return True
        now = time.monotonic()
        if not self.value and now - self.checked >= CANCEL_POLL_SECONDS:
            self.checked = now
            self.value = Search.objects.filter(pk=self.search_id, cancel_requested=True).exists()
        return self.value


class EventRecorder:
    """on_event(): save the engine's event to the DB, then broadcast it with a seq number."""

    def __init__(self, search_id: int):
        self.search_id = search_id

    def __call__(self, event: dict) -> None:
        kind = event.get("type")
        handler = {
            "search.phase": self.phase,
            "candidate.started": self.started,
            "candidate.epoch": self.epoch,
            "candidate.finished": self.finished,
        }.get(kind)
        if kind == "search.finished":
            self.best(event)  # the job announces the end once the weights are written
        elif handler is not None:
            broadcast.record(self.search_id, kind, lambda search: handler(search, event))

    def phase(self, search: Search, event: dict) -> dict:
        search.phase = event["phase"]
        search.status = Search.RUNNING
        search.save(update_fields=["phase", "status"])
        return {"phase": search.phase, "status": search.status}

    def started(self, search: Search, event: dict) -> dict:
        candidate, _ = Candidate.objects.update_or_create(
            search=search,
            index=event["index"],
            defaults={
                "phase": event.get("phase", ""),
                "arch": event.get("arch", {}),
                "params": event.get("params") or 0,
                "macs": event.get("macs") or 0,
                "status": Candidate.RUNNING,
            },
        )
        search.progress = {"index": candidate.index, "phase": candidate.phase, "epoch": 0}
        search.save(update_fields=["progress"])
        return {"candidate": candidate_json(candidate)}

    def epoch(self, search: Search, event: dict) -> dict:
        fields = ("index", "epoch", "epochs", "loss", "train_acc", "test_acc")
        progress = {k: event.get(k) for k in fields}
        progress["phase"] = (search.progress or {}).get("phase", search.phase)
        search.progress = progress
        search.save(update_fields=["progress"])
        return progress

    def finished(self, search: Search, event: dict) -> dict:
        rec = event["candidate"]
        defaults = {k: rec.get(k) for k in RECORD_FIELDS if rec.get(k) is not None}
        defaults["record"] = {k: v for k, v in rec.items() if k != "replayed"}
        candidate, _ = Candidate.objects.update_or_create(
            search=search, index=rec["index"], defaults=defaults
        )
        if candidate.accepted:
            search.best = candidate
            search.save(update_fields=["best"])
        return {
            "candidate": candidate_json(candidate),
            "replayed": bool(rec.get("replayed")),
            "best": best_json(search),
        }

    def best(self, event: dict) -> None:
        best = event.get("best")
        if best and "index" in best:
            c = Candidate.objects.filter(search_id=self.search_id, index=best["index"]).first()
            if c is not None:
                Search.objects.filter(pk=self.search_id).update(best=c)
