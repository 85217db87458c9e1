"""What the pages share: the owner checks (another user's object is a 404) and file answers."""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404

from searchapp import searches as search_service
from searchapp.models import Dataset, Search

PRIVATE_CACHE = "private, max-age=3600"
"""Cache-Control of a user's images (thumbnails, test images): theirs only, for an hour."""


def get_dataset_for_user(request, pk: int) -> Dataset:
    return get_object_or_404(Dataset, pk=pk, owner=request.user)


def get_search_for_user(request, pk: int) -> Search:
    try:
        return search_service.owned_search(request.user, pk)
    except search_service.NotFound as exc:
        raise Http404(str(exc)) from None


def download_response(download: search_service.Download) -> FileResponse:
    """A file as an attachment, with the name and content type the service gives it."""
    return FileResponse(
        open(download.path, "rb"),
        as_attachment=True,
        filename=download.filename,
        content_type=download.content_type,
    )


def png_file_response(path: Path) -> FileResponse:
    response = FileResponse(open(path, "rb"), content_type="image/png")
    response["Cache-Control"] = PRIVATE_CACHE
    return response


def png_response(png: bytes) -> HttpResponse:
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = PRIVATE_CACHE
    return response
