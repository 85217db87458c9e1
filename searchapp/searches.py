"""Searches as a service: what pages, the API and management commands do with them.

Views and commands call these; none of them builds a Search or touches its job by hand.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Dataset, Search
from .serializers import search_json
from .storage import media_path
from .tasks import broadcast, queue

log = logging.getLogger(__name__)

WEIGHT_FORMATS = ("pt", "onnx")


def create_search(owner, dataset: Dataset, settings: dict) -> Search:
    """Save a search with validated settings (SearchConfig.to_dict()) and queue it on commit."""
    with transaction.atomic():
        search = Search.objects.create(owner=owner, dataset=dataset, settings=settings)
        enqueue_search(search)
    search.refresh_from_db()
    return search


def cancel_search(search: Search) -> None:
    """Ask an active search to stop (a queued one ends now); a finished one is left alone."""
    if search.is_active:
        cancel_job(search)
        search.refresh_from_db()


def owned_search(user, pk: int) -> Search:
    """The user's search `pk`, or 404 (another user's search does not exist for them)."""
    return get_object_or_404(Search.objects.select_related("dataset", "best"), pk=pk, owner=user)


def weights_file(search: Search, fmt: str) -> Path:
    """The search's weights in `fmt` ("pt" or "onnx"), or 404 when there are none."""
    rel = (search.outputs or {}).get(fmt)
    if fmt not in WEIGHT_FORMATS or not rel or not media_path(rel).is_file():
        raise Http404("no weights of that kind for this search")
    return media_path(rel)


def weights_response(search: Search, fmt: str) -> FileResponse:
    """The weights file as a download named after the search (404 when there is none)."""
    path = weights_file(search, fmt)
    filename = f"mininas-search{search.pk}.{fmt}"
    return FileResponse(open(path, "rb"), as_attachment=True, filename=filename)


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
    """Queue the search once the current transaction commits (the worker must see the row)."""
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
        try:
            from rq.job import Job

            Job.fetch(search.rq_job_id, connection=queue.connection()).cancel()
        except Exception as exc:  # noqa: BLE001 - the job checks the flag when it starts anyway
            log.info("could not cancel rq job %s: %s", search.rq_job_id, exc)
    finish_search(search.pk, Search.Status.CANCELLED)


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
