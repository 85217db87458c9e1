"""Pages. Each one is for its owner only: another user's object is a 404."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import searches
from .forms import SearchForm, config_from_form
from .models import Dataset, Search
from .quotas import LimitExceeded
from .serializers import best_json, snapshot
from .storage import dataset_dir, thumbnails
from .uploads import working_side_choices


def get_dataset_for_user(request, pk: int) -> Dataset:
    return get_object_or_404(Dataset, pk=pk, owner=request.user)


@login_required
@require_GET
def home(request):
    if Search.objects.filter(owner=request.user).exists():
        return redirect("searchapp-searches")
    if Dataset.objects.filter(owner=request.user).exists():
        return redirect("searchapp-datasets")
    return redirect("searchapp-dataset-new")


# ----------------------------------------------------------------------------- datasets


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
    dataset = get_dataset_for_user(request, pk)
    ctx = {
        "dataset": dataset,
        "classes": thumbnails(dataset),
        "searches": dataset.searches.filter(owner=request.user)[:20],
    }
    return render(request, "searchapp/dataset_detail.html", ctx)


@login_required
@require_http_methods(["GET", "POST"])
def dataset_delete(request, pk: int):
    """GET: what deleting the dataset takes with it; POST: delete it."""
    dataset = get_dataset_for_user(request, pk)
    if request.method == "POST":
        searches.delete_dataset(dataset)
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
    path = dataset_dir(dataset.pk) / "thumbs" / f"{name}.png"  # name matches \d+_\d+ in urls
    if not path.is_file():
        raise Http404("no such thumbnail")
    response = FileResponse(open(path, "rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# ----------------------------------------------------------------------------- searches


@login_required
@require_GET
def search_list(request):
    rows = Search.objects.filter(owner=request.user).select_related("dataset", "best")
    return render(request, "searchapp/search_list.html", {"searches": rows})


@login_required
@require_http_methods(["GET", "POST"])
def search_new(request):
    if request.method == "POST":
        form = SearchForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                return redirect(create_search(request.user, form))
            except LimitExceeded as exc:
                form.add_error(None, str(exc))
        status = 400
    else:
        initial = {}
        wanted = request.GET.get("dataset", "")
        if wanted.isdigit():
            initial["dataset"] = int(wanted)
        form = SearchForm(initial=initial, user=request.user)
        status = 200
    has_datasets = Dataset.objects.filter(owner=request.user).exists()
    return render(
        request,
        "searchapp/search_new.html",
        {"form": form, "has_datasets": has_datasets},
        status=status,
    )


def create_search(user, form: SearchForm) -> Search:
    """Save the valid form's search and queue it once the row is committed."""
    return searches.create_search(user, form.cleaned_data["dataset"], config_from_form(form))


@login_required
@require_GET
def search_detail(request, pk: int):
    search = searches.owned_search(request.user, pk)
    snap = snapshot(search)
    ctx = {
        "search": search,
        "snapshot": snap,
        "candidates": snap["candidates"],
        "best": best_json(search),
        "downloads": snap["search"]["downloads"],
        "baselines": snap["baselines"],
    }
    ctx["baselines_active"] = any(b["active"] for b in ctx["baselines"])
    return render(request, "searchapp/search_detail.html", ctx)


@login_required
@require_POST
def search_cancel(request, pk: int):
    search = searches.owned_search(request.user, pk)
    searches.cancel_search(search)
    return redirect(search)


@login_required
@require_http_methods(["GET", "POST"])
def search_delete(request, pk: int):
    """GET: what deleting the search means; POST: delete it (a running one is stopped)."""
    search = searches.owned_search(request.user, pk)
    if request.method == "POST":
        searches.delete_search(search)
        messages.success(request, f"Search {pk} is deleted.")
        return redirect("searchapp-searches")
    return render(request, "searchapp/confirm_delete.html", {"search": search})


@login_required
@require_GET
def search_download(request, pk: int, fmt: str):
    return searches.weights_response(searches.owned_search(request.user, pk), fmt)
