"""The state changes a job and a service both make: a search ends, fails, or gets a job id;
waiting searches are admitted to the workers in turn; a baseline or suite page hears news.

Services (searches, baselines, suite) and jobs (tasks.search, tasks.reconcile, ...) both
call these, so neither imports the other: services sit above the jobs, and this module sits
below both (it imports only the models, the serializers and the job plumbing).

Fair share: a new search waits in the database (status queued, no job id) until it is
admitted; each user has at most SEARCH_MAX_ACTIVE_PER_USER searches on the workers (in the
`gpu` queue or running), and when a slot frees the user served longest ago goes first
(`admit_waiting`). Admission runs when a search is created, ended or deleted, and in every
reconciler pass, which catches an admission missed by a crash or a Redis outage.
"""

from __future__ import annotations

import logging
from collections import Counter

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..models import Search, SuiteRun
from ..serializers import baseline_rows, search_json, suite_snapshot
from . import broadcast, queue

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- a search's job


def name_new_job(search: Search, *, replacing: str | None = None) -> str | None:
    """Write a fresh RQ job id on the search's row (status queued) and return it.

    With `replacing`, only while that job still names the search and it is active, so that
    of two reconcilers requeueing the same orphan one wins; None for the loser.
    """
    job_id = queue.SEARCH.new_id(search.pk)
    rows = Search.objects.filter(pk=search.pk)
    if replacing is not None:
        rows = rows.filter(rq_job_id=replacing, status__in=Search.ACTIVE)
    return job_id if rows.update(rq_job_id=job_id, status=Search.Status.QUEUED) else None


def fail_search(search_id: int, error: str) -> None:
    finish_search(search_id, Search.Status.FAILED, error=error[: queue.ERROR_CHARS])


def finish_search(
    search_id: int, status: str, outputs=None, best_index=None, error: str = ""
) -> None:
    """Record how the search ended and tell its page (numbered like every event)."""

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
    transaction.on_commit(admit_waiting)  # its slot on the workers is free


# ----------------------------------------------------------------------------- whose turn


def admit_waiting() -> list[int]:
    """Hand waiting searches to the workers, in turn; returns the ids admitted.

    Each user has at most SEARCH_MAX_ACTIVE_PER_USER searches in the `gpu` queue or running;
    among users with a free slot, the one whose last search started longest ago (or never)
    goes first, with their oldest waiting search. The RQ queue, first come first served, then
    serves users in turn. Never raises: what it cannot admit now, the reconciler admits later.
    """
    admitted: list[int] = []
    passed: set[int] = set()
    try:
        while (search := _next_in_turn(passed)) is not None:
            job_id = _claim(search)
            if job_id is None:  # its user's slots filled meanwhile, or another process won
                passed.add(search.owner_id)
                continue
            try:
                queue.SEARCH.enqueue(search.pk, job_id)
            except Exception:
                # Redis is down: the search waits again; a reconciler pass admits it later
                again = Search.objects.filter(pk=search.pk, rq_job_id=job_id)
                again.filter(status=Search.Status.QUEUED).update(rq_job_id="")
                raise
            admitted.append(search.pk)
    except Exception as exc:  # noqa: BLE001 - never fail a request or a job over admission
        log.error("admission stopped after %s: %s", admitted or "none", exc)
    return admitted


def _next_in_turn(passed: set[int]) -> Search | None:
    """The oldest waiting search of the user served longest ago among those with a free slot."""
    slots = django_settings.SEARCH_MAX_ACTIVE_PER_USER
    busy = Counter(
        Search.objects.filter(status__in=Search.ACTIVE)
        .exclude(rq_job_id="")
        .values_list("owner_id", flat=True)
    )
    first: dict[int, Search] = {}
    waiting = Search.objects.filter(status=Search.Status.QUEUED, rq_job_id="").exclude(
        owner_id__in=passed
    )
    for search in waiting.order_by("created", "pk").only("pk", "owner_id", "created"):
        if search.owner_id not in first and busy[search.owner_id] < slots:
            first[search.owner_id] = search
    if not first:
        return None
    served = dict(
        Search.objects.filter(owner_id__in=first, started__isnull=False)
        .values("owner_id")
        .annotate(last=Max("started"))
        .values_list("owner_id", "last")
    )

    def turn(search: Search) -> tuple:
        last = served.get(search.owner_id)
        return (last is not None, last or search.created, search.created, search.pk)

    return min(first.values(), key=turn)


def _claim(search: Search) -> str | None:
    """Give the waiting search a job id if its owner still has a free slot; None if not."""
    job_id = queue.SEARCH.new_id(search.pk)
    with transaction.atomic():
        lock_user(search.owner_id)
        busy = Search.objects.filter(owner_id=search.owner_id, status__in=Search.ACTIVE).exclude(
            rq_job_id=""
        )
        if busy.count() >= django_settings.SEARCH_MAX_ACTIVE_PER_USER:
            return None
        rows = Search.objects.filter(pk=search.pk, status=Search.Status.QUEUED, rq_job_id="")
        return job_id if rows.update(rq_job_id=job_id) else None


def lock_user(user_id: int) -> None:
    """Hold the user's row until the transaction ends (PostgreSQL: one admission or creation
    per user at a time; SQLite writes one transaction at a time anyway)."""
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk"))


# ----------------------------------------------------------------------------- pages' news


def announce_baselines(search_id: int, event_type: str) -> None:
    """Send the search's baseline rows to its page, numbered with the search's events
    ("baseline.progress" or "baseline.finished"); the page replaces its rows with them."""
    broadcast.record(search_id, event_type, lambda search: {"baselines": baseline_rows(search)})


def announce_suite(run_id: int, event_type: str) -> None:
    """Send the whole suite page (serializers.suite_snapshot) to the run's socket."""
    run = SuiteRun.objects.select_related("owner").get(pk=run_id)
    message = {**suite_snapshot(run.owner, run), "type": event_type}
    broadcast.send(broadcast.suite_group(run_id), message)
