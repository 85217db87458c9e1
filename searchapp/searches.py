"""Searches as a service: what pages, the API and management commands do with them.

Views and commands call these; none of them builds a Search or touches its job by hand.
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from .models import Dataset, Search
from .storage import media_path
from .tasks import search as search_task

WEIGHT_FORMATS = ("pt", "onnx")


def create_search(owner, dataset: Dataset, settings: dict) -> Search:
    """Save a search with validated settings (SearchConfig.to_dict()) and queue it on commit."""
    with transaction.atomic():
        search = Search.objects.create(owner=owner, dataset=dataset, settings=settings)
        search_task.enqueue_search(search)
    search.refresh_from_db()
    return search


def cancel_search(search: Search) -> None:
    """Ask an active search to stop (a queued one ends now); a finished one is left alone."""
    if search.is_active:
        search_task.cancel_job(search)
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
