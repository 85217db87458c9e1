"""Searches as a service: what pages, the API and management commands do with them.

Views and commands call these; none of them builds a Search or touches its job by hand.

Fair share: a new search waits in the database (status queued, no job id) until it is
admitted; each user has at most SEARCH_MAX_ACTIVE_PER_USER searches on the workers (in the
`gpu` queue or running), and when a slot frees the user served longest ago goes first
(`admit_waiting`). Admission runs when a search is created, ended or deleted, and in every
reconciler pass, which catches an admission missed by a crash or a Redis outage.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from . import quotas
from .models import Dataset, Search
from .serializers import ARTIFACTS, search_json
from .storage import dataset_dir, media_path, search_dir
from .tasks import broadcast, queue
from .tasks.lease import holder

log = logging.getLogger(__name__)

WEIGHT_FORMATS = tuple(ARTIFACTS)  # every artifact a search can hand over (Search.outputs keys)
DIRECT = "direct"
"""rq_job_id of a search run in its caller's process (`manage.py search --sync`): never admitted
to the queue; the reconciler queues it if that process dies."""


def create_search(owner, dataset: Dataset, settings: dict, *, run_here: bool = False) -> Search:
    """Save a search with validated settings (SearchConfig.to_dict()); it waits for its turn
    on the workers, or with `run_here` the caller runs it. LimitExceeded when the owner is
    over a limit (quotas.check_new_search)."""
    with transaction.atomic():
        _lock_user(owner.pk)  # two requests of one user cannot both pass the limits
        quotas.check_new_search(owner, dataset, settings)
        search = Search.objects.create(
            owner=owner, dataset=dataset, settings=settings, rq_job_id=DIRECT if run_here else ""
        )
        if not run_here:
            transaction.on_commit(admit_waiting)
    search.refresh_from_db()
    return search


def cancel_search(search: Search) -> None:
    """Ask an active search to stop (a queued one ends now); a finished one is left alone."""
    if search.is_active:
        cancel_job(search)
        search.refresh_from_db()


def delete_search(search: Search) -> None:
    """Delete the search, its candidates, baselines and files; a running one is stopped.

    The row goes at once. A job still running the search sees that within an epoch (its
    cancel flag), ends quietly and removes the files it wrote; without a running job the
    files go now (and the reconciler removes any that a dead job left behind).
    """
    search_id, job_id = search.pk, search.rq_job_id
    with transaction.atomic():
        search.delete()
        transaction.on_commit(lambda: _after_delete(search_id, job_id))


def delete_dataset(dataset: Dataset) -> None:
    """Delete the dataset, its files and every search on it (as delete_search does)."""
    dataset_id = dataset.pk
    with transaction.atomic():
        for search in Search.objects.filter(dataset=dataset):
            delete_search(search)
        dataset.delete()
        transaction.on_commit(lambda: shutil.rmtree(dataset_dir(dataset_id), ignore_errors=True))


def _after_delete(search_id: int, job_id: str) -> None:
    """Remove the deleted search's files unless a job still runs it; free its slot."""
    try:
        running = holder(queue.connection(), search_id) is not None
    except Exception as exc:  # noqa: BLE001 - Redis down: the job or the reconciler cleans up
        log.warning("search %s deleted; cannot tell whether a job runs it: %s", search_id, exc)
        running = bool(job_id)
    if not running:
        if job_id and job_id != DIRECT:
            _cancel_rq_job(job_id)  # it would find no row and skip, but need not start at all
        shutil.rmtree(search_dir(search_id), ignore_errors=True)
    admit_waiting()  # its slot on the workers is free


def owned_search(user, pk: int) -> Search:
    """The user's search `pk`, or 404 (another user's search does not exist for them)."""
    return get_object_or_404(Search.objects.select_related("dataset", "best"), pk=pk, owner=user)


def weights_file(search: Search, fmt: str) -> Path:
    """The search's artifact of kind `fmt` (a key of ARTIFACTS), or 404 when there is none."""
    rel = (search.outputs or {}).get(fmt)
    if fmt not in WEIGHT_FORMATS or not rel or not media_path(rel).is_file():
        raise Http404("no weights of that kind for this search")
    return media_path(rel)


def weights_response(search: Search, fmt: str) -> FileResponse:
    """The weights file as a download named after the search (404 when there is none)."""
    path = weights_file(search, fmt)
    name, content_type, _ = ARTIFACTS[fmt]
    # Guessing from the name gives .pt "application/vnd.snesdev-page-table": say it ourselves.
    return FileResponse(
        open(path, "rb"),
        as_attachment=True,
        filename=name.format(pk=search.pk),
        content_type=content_type,
    )


# ----------------------------------------------------------------------------- its job


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


def enqueue_search(search: Search) -> None:
    """Queue the search once the current transaction commits (the worker must see the row),
    out of turn: tests and benchmarks use it; users' searches wait for admit_waiting."""
    search_id = search.pk
    search.rq_job_id = name_new_job(search)
    queue.SEARCH.enqueue_on_commit(
        search_id, search.rq_job_id, lambda error: fail_search(search_id, error)
    )


def cancel_job(search: Search) -> None:
    """Ask a search to stop: a running job sees the flag within an epoch; a queued one ends now."""
    Search.objects.filter(pk=search.pk).update(cancel_requested=True)
    search.cancel_requested = True
    if search.status != Search.Status.QUEUED:
        return
    if search.rq_job_id:
        _cancel_rq_job(search.rq_job_id)
    finish_search(search.pk, Search.Status.CANCELLED)


def _cancel_rq_job(job_id: str) -> None:
    try:
        from rq.job import Job

        Job.fetch(job_id, connection=queue.connection()).cancel()
    except Exception as exc:  # noqa: BLE001 - the job checks its row when it starts anyway
        log.info("could not cancel rq job %s: %s", job_id, exc)


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
        _lock_user(search.owner_id)
        busy = Search.objects.filter(owner_id=search.owner_id, status__in=Search.ACTIVE).exclude(
            rq_job_id=""
        )
        if busy.count() >= django_settings.SEARCH_MAX_ACTIVE_PER_USER:
            return None
        rows = Search.objects.filter(pk=search.pk, status=Search.Status.QUEUED, rq_job_id="")
        return job_id if rows.update(rq_job_id=job_id) else None


def _lock_user(user_id: int) -> None:
    """Hold the user's row until the transaction ends (PostgreSQL: one admission or creation
    per user at a time; SQLite writes one transaction at a time anyway)."""
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk"))
