"""Find searches that no live job is running, and queue them again (they resume, not restart).

A search marked queued or running is alive when its lease is held (a job is running it), or
when its RQ job is waiting in the queue, or started less than a lease ago (it is about to take
the lease). Anything else is an orphan: its worker or work-horse died, or Redis lost the job.
Orphans get a new job id in one conditional UPDATE (so two reconcilers cannot both win) and
are enqueued; the engine replays the candidates already in the database.

A search still waiting for its turn (queued, no job id yet) is no orphan: each pass ends by
admitting waiting searches (lifecycle.admit_waiting), which catches an admission that a crash or
a Redis outage made someone miss; waiting uploads are admitted the same way, and one whose
packing job died is marked failed (packing.admit_packing). A pass also removes the files of
deleted searches that no job runs any more (a job normally removes them itself when it sees its
row gone).

Bounds: a killed work-horse is noticed by its worker at once (tasks.worker drops its lease);
a worker killed outright loses its lease after SEARCH_LEASE_SECONDS; an idle worker reconciles
every RECONCILE_SECONDS. So a search is running again within about
SEARCH_LEASE_SECONDS + RECONCILE_SECONDS (20 s by default) of its worker's death, as soon
as a worker is free.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Search
from ..storage import media_path
from . import broadcast, queue
from .lease import holder
from .lifecycle import admit_waiting, name_new_job
from .packing import admit_packing
from .queue import SEARCH

log = logging.getLogger(__name__)

WAITING = ("queued", "deferred", "scheduled", "created")


def job_is_alive(connection, search: Search) -> bool:
    """Whether a job is running this search or will run it."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    if holder(connection, search.pk):
        return True
    grace = timedelta(seconds=settings.SEARCH_LEASE_SECONDS)
    if search.status == Search.Status.QUEUED and search.created > timezone.now() - grace:
        return True  # just created: enqueued on commit, a moment from now
    if not search.rq_job_id:
        return False
    try:
        job = Job.fetch(search.rq_job_id, connection=connection)
        status = job.get_status(refresh=False)
    except NoSuchJobError:
        return False
    if status in WAITING:
        return True
    if status == "started" and job.started_at is not None:
        started = job.started_at
        if timezone.is_naive(started):
            started = started.replace(tzinfo=UTC)
        return started > timezone.now() - grace
    return False


def redis_uptime(connection) -> float:
    return float(connection.info("server").get("uptime_in_seconds", 0))


def reconcile(connection=None) -> list[int]:
    """Queue again every active search that no live job runs; returns their ids. Then admit
    waiting searches and remove deleted searches' files."""
    if connection is None:
        connection = queue.connection()
    if redis_uptime(connection) < settings.SEARCH_LEASE_SECONDS:
        return []  # Redis just (re)started: running jobs have not renewed their leases yet
    requeued = []
    admitted = Search.objects.filter(status__in=Search.ACTIVE).exclude(rq_job_id="")
    for search in admitted.order_by("pk"):
        if job_is_alive(connection, search):
            continue
        if requeue(search):
            requeued.append(search.pk)
    admit_waiting()
    admit_packing()
    remove_deleted_files(connection)
    return requeued


def remove_deleted_files(connection) -> list[int]:
    """Remove searches/<id>/ of every deleted search that no job holds; returns those ids."""
    root = media_path("searches")
    ids = [int(p.name) for p in root.iterdir() if p.name.isdigit()] if root.is_dir() else []
    known = set(Search.objects.filter(pk__in=ids).values_list("pk", flat=True))
    gone = [pk for pk in ids if pk not in known and not holder(connection, pk)]
    for pk in gone:
        log.info("removing the files of deleted search %s", pk)
        shutil.rmtree(root / str(pk), ignore_errors=True)
    return gone


def requeue(search: Search) -> bool:
    """Give the orphan a new job id (if nobody else did meanwhile) and enqueue it."""
    job_id = name_new_job(search, replacing=search.rq_job_id)
    if job_id is None:
        return False
    log.warning(
        "search %s: job %s is gone; queued again as %s", search.pk, search.rq_job_id, job_id
    )

    def apply(s: Search) -> dict:
        s.progress = {}
        s.save(update_fields=["progress"])
        return {"status": s.status, "reason": "the worker stopped; the search resumes"}

    broadcast.record(search.pk, "search.requeued", apply)
    SEARCH.enqueue(search.pk, job_id)
    return True
