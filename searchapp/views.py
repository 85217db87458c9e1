"""Pages. Each one is for its owner only: another user's object is a 404."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import DurationField, ExpressionWrapper, F
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import searches
from .forms import SearchForm, config_from_form
from .models import Dataset, Search
from .quotas import LimitExceeded, cost_bound
from .serializers import ARTIFACTS, AXES, best_json, compare_json, snapshot
from .storage import dataset_dir, media_path, thumbnails
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


SEARCH_SORTS = {
    "newest": ("-created", "-pk"),
    "oldest": ("created", "pk"),
    "accuracy": (F("best__test_acc").desc(nulls_last=True), "-pk"),
    "params": (F("best__params").asc(nulls_last=True), "-pk"),
    "duration": (F("took").asc(nulls_last=True), "-pk"),
}
"""The search list's orders (?sort=): name -> order_by arguments. Accuracy: best first."""
SEARCHES_PER_PAGE = 25


def search_list_filters(request) -> dict:
    """The list's filters from the query string, each checked (a bad value is ignored)."""
    q = request.GET
    f = {"dataset": "", "status": "", "min_acc": "", "sort": "newest"}
    if q.get("dataset", "").isdigit():
        f["dataset"] = q["dataset"]
    if q.get("status") in Search.Status.values:
        f["status"] = q["status"]
    try:
        acc = float(q.get("min_acc", ""))
        if 0 <= acc <= 100:
            f["min_acc"] = q["min_acc"]
    except ValueError:
        pass
    if q.get("sort") in SEARCH_SORTS:
        f["sort"] = q["sort"]
    return f


def filtered_searches(user, f: dict):
    rows = Search.objects.filter(owner=user).select_related("dataset", "best")
    if f["dataset"]:
        rows = rows.filter(dataset_id=int(f["dataset"]))
    if f["status"]:
        rows = rows.filter(status=f["status"])
    if f["min_acc"]:
        rows = rows.filter(best__test_acc__gte=float(f["min_acc"]))
    rows = rows.annotate(
        took=ExpressionWrapper(F("finished") - F("started"), output_field=DurationField())
    )
    return rows.order_by(*SEARCH_SORTS[f["sort"]])


@login_required
@require_GET
def search_list(request):
    f = search_list_filters(request)
    rows = filtered_searches(request.user, f)
    page = Paginator(rows, SEARCHES_PER_PAGE).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in f.items() if v and not (k == "sort" and v == "newest")})
    ctx = {
        "searches": page.object_list,
        "page": page,
        "filters": f,
        "query": query,
        "sorts": list(SEARCH_SORTS),
        "statuses": Search.Status.choices,
        "datasets": Dataset.objects.filter(owner=request.user).only("pk", "name"),
        "any": Search.objects.filter(owner=request.user).exists(),
    }
    return render(request, "searchapp/search_list.html", ctx)


COMPARE_MAX = 6


@login_required
@require_GET
def search_compare(request):
    """Two or more finished searches of the user side by side (?ids=1&ids=2)."""
    raw = request.GET.getlist("ids")
    ids = list(dict.fromkeys(int(i) for i in raw if i.isdigit()))
    if not raw:  # nothing asked yet: how to ask
        return render(request, "searchapp/compare.html", {"problem": "", "entries": []})
    problem = ""
    if len(ids) != len(set(raw)):
        problem = "Searches are picked by their numbers (?ids=1&ids=2)."
    elif len(ids) < 2:
        problem = "Pick at least two searches to compare."
    elif len(ids) > COMPARE_MAX:
        problem = f"At most {COMPARE_MAX} searches can be compared at once."
    rows = []
    if not problem:
        found = {
            s.pk: s
            for s in Search.objects.filter(owner=request.user, pk__in=ids).select_related(
                "dataset", "best"
            )
        }
        if len(found) != len(ids):
            raise Http404("no such search")
        rows = [found[i] for i in ids]
        unfinished = [s.pk for s in rows if s.status != Search.Status.FINISHED or not s.best_id]
        if unfinished:
            problem = "Only finished searches can be compared; not finished: " + ", ".join(
                f"search {pk}" for pk in unfinished
            )
    if problem:
        return render(request, "searchapp/compare.html", {"problem": problem}, status=400)
    entries = [compare_json(s) for s in rows]
    return render(request, "searchapp/compare.html", {"entries": entries, "chart": entries})


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
        if request.GET.get("select_on") in ("validation", "test"):  # the suite page: test
            initial["select_on"] = request.GET["select_on"]
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


def final_context(final: dict | None) -> dict | None:
    """The final model's results as the page draws them (None for a search without them):
    one row per class with its test and validation accuracy and its confusion-matrix row."""
    if not final or final.get("test_acc") is None:
        return None
    classes = final.get("classes") or []
    matrix = final.get("confusion_matrix") or []
    per_test = final.get("per_class") or {}
    per_val = final.get("per_class_val") or {}
    rows = []
    for i, name in enumerate(classes):
        cells = matrix[i] if i < len(matrix) else []
        rows.append(
            {
                "name": name,
                "test": per_test.get(name),
                "val": per_val.get(name),
                "count": sum(cells),
                "cells": [{"n": n, "diag": j == i} for j, n in enumerate(cells)],
            }
        )
    return {
        **final,
        "rows": rows,
        "has_val": bool(per_val),
        "has_matrix": bool(matrix),
        "mistakes": final.get("misclassified") or [],
    }


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
        "selection_split": snap["search"].get("selection_split"),
        "final": final_context(snap["search"].get("final")),
        "in_flight": snap["in_flight"],
        "exports": snap["search"]["exports"],
        "more_downloads": [
            {"kind": kind, "url": url, "label": ARTIFACTS[kind][2]}
            for kind, url in snap["search"]["downloads"].items()
            if kind not in ("pt", "onnx")  # those two have their own buttons
        ],
        "axes": [{"key": k, "label": label} for k, label in AXES.items()],
        "budget": snap["search"]["budget"],
        "budget_rows": [
            {"axis": k, "label": AXES[k], "limit": v} for k, v in snap["search"]["budget"].items()
        ],
    }
    ctx["baselines_active"] = any(b["active"] for b in ctx["baselines"])
    ctx["cost_bound"] = cost_bound(search)
    return render(request, "searchapp/search_detail.html", ctx)


MISTAKES_ON_SEARCH_PAGE = 12
TEST_SPLIT_CACHE_BYTES = 256 * 2**20
"""A dataset's test images are kept in memory (one dataset at a time) when no larger than this,
so that a page of thumbnails does not unpack the npz once per image."""
_test_split: dict = {}


def _test_images(dataset: Dataset):
    """The dataset's x_test (N, H, W, C) uint8, or None when it has no packed file."""
    path = media_path(dataset.npz_path) if dataset.npz_path else None
    if path is None or not path.is_file():
        return None
    key = (str(path), path.stat().st_mtime_ns)
    if _test_split.get("key") == key:
        return _test_split["x"]
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        x = z["x_test"] if "x_test" in z.files else None
    if x is not None and x.nbytes <= TEST_SPLIT_CACHE_BYTES:
        _test_split.clear()
        _test_split.update(key=key, x=x)
    return x


def test_image_png(dataset: Dataset, index: int) -> bytes | None:
    """Test image `index` of the dataset as PNG bytes, scaled up (nearest) if tiny."""
    import io

    import numpy as np
    from PIL import Image

    x = _test_images(dataset)
    if x is None or not 0 <= index < len(x):
        return None
    img = np.asarray(x[index])
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)  # stored NCHW
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    im = Image.fromarray(img)
    if max(im.size) < 64:
        im = im.resize((64, 64), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@login_required
@require_GET
def search_mistakes(request, pk: int):
    """The final model's misclassified test images (most confident mistakes first)."""
    search = searches.owned_search(request.user, pk)
    final = final_context(search.final)
    return render(request, "searchapp/mistakes.html", {"search": search, "final": final})


@login_required
@require_GET
def search_test_image(request, pk: int, index: int):
    """One image of the search's dataset's test split, as PNG (the mistakes' thumbnails)."""
    search = searches.owned_search(request.user, pk)
    png = test_image_png(search.dataset, index)
    if png is None:
        raise Http404("no such test image")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


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
