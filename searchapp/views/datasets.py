"""Home (a redirect to the start page) and the dataset pages: list, upload, detail, deletion."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from searchapp import searches as search_service
from searchapp.models import Dataset, Search
from searchapp.serializers import packing_json
from searchapp.storage import thumbnail_path, thumbnails
from searchapp.uploads import working_side_choices

from .common import get_dataset_for_user, png_file_response


@login_required
@require_GET
def home(request):
    return redirect("searchapp-start")


@login_required
@require_GET
def dataset_list(request):
    datasets = Dataset.objects.filter(owner=request.user)
    return render(request, "searchapp/dataset_list.html", {"datasets": datasets})


@login_required
@require_GET
def dataset_new(request):
    limits = {
        "batch_files": settings.UPLOAD_BATCH_FILES,
        "max_files": settings.UPLOAD_MAX_FILES,
        "max_file_bytes": settings.UPLOAD_MAX_FILE_BYTES,
        "max_request_bytes": settings.UPLOAD_MAX_REQUEST_BYTES,
        "max_side": settings.DATASET_MAX_SIDE,
        "sides": working_side_choices(),
    }
    return render(request, "searchapp/dataset_new.html", {"limits": limits})


@login_required
@require_GET
def dataset_detail(request, pk: int):
    """The dataset; while its upload is packed, where that stands (the page follows it through
    the JSON API and reloads once it is ready or failed)."""
    dataset = get_dataset_for_user(request, pk)
    ctx = {
        "dataset": dataset,
        "classes": thumbnails(dataset) if dataset.is_ready else [],
        "searches": dataset.searches.filter(owner=request.user)[:20],
        "packing": packing_json(dataset),
    }
    return render(request, "searchapp/dataset_detail.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_delete(request, pk: int):
    """GET: what deleting the dataset takes with it; POST: delete it."""
    dataset = get_dataset_for_user(request, pk)
    if request.method == "POST":
        search_service.delete_dataset(dataset)
        messages.success(request, f"Dataset “{dataset.name}” and its searches are deleted.")
        return redirect("searchapp-datasets")
    rows = dataset.searches.all()
    ctx = {
        "dataset": dataset,
        "searches": rows.count(),
        "active": rows.filter(status__in=Search.ACTIVE).count(),
    }
    return render(request, "searchapp/confirm_delete.html", ctx)


@login_required
@require_GET
def dataset_thumb(request, pk: int, name: str):
    dataset = get_dataset_for_user(request, pk)
    path = thumbnail_path(dataset, name)  # name matches \d+_\d+ in urls
    if path is None:
        raise Http404("no such thumbnail")
    return png_file_response(path)
