"""The search pages: list, new-search form, detail, the final model's mistakes, cancel, delete
and the downloads."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import DurationField, ExpressionWrapper, F
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from searchapp import searches as search_service
from searchapp.forms import SearchForm, config_from_form
from searchapp.models import Dataset, Search
from searchapp.params import parse_id
from searchapp.quotas import LimitExceeded, cost_bound
from searchapp.serializers import ARTIFACTS, AXES, best_json, snapshot
from searchapp.storage import png_of_test_image

from .common import download_response, get_search_for_user, png_response

# ----------------------------------------------------------------------------- the list

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
    if parse_id(q.get("dataset")) is not None:
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


# ----------------------------------------------------------------------------- a new search


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
        wanted = parse_id(request.GET.get("dataset"))
        if wanted is not None:
            initial["dataset"] = wanted
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
    return search_service.create_search(user, form.cleaned_data["dataset"], config_from_form(form))


# ----------------------------------------------------------------------------- one search

MISTAKES_ON_SEARCH_PAGE = 12
"""The most confident mistakes the search page shows; the mistakes page shows them all."""


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
    mistakes = final.get("misclassified") or []
    return {
        **final,
        "rows": rows,
        "has_val": bool(per_val),
        "has_matrix": bool(matrix),
        "mistakes": mistakes,
        "mistakes_preview": mistakes[:MISTAKES_ON_SEARCH_PAGE],
    }


@login_required
@require_GET
def search_detail(request, pk: int):
    search = get_search_for_user(request, pk)
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


@login_required
@require_GET
def search_mistakes(request, pk: int):
    """The final model's misclassified test images (most confident mistakes first)."""
    search = get_search_for_user(request, pk)
    final = final_context(search.final)
    return render(request, "searchapp/mistakes.html", {"search": search, "final": final})


@login_required
@require_GET
def search_test_image(request, pk: int, index: int):
    """One image of the search's dataset's test split, as PNG (the mistakes' thumbnails)."""
    search = get_search_for_user(request, pk)
    png = png_of_test_image(search.dataset, index)
    if png is None:
        raise Http404("no such test image")
    return png_response(png)


@login_required
@require_POST
def search_cancel(request, pk: int):
    search = get_search_for_user(request, pk)
    search_service.cancel_search(search)
    return redirect(search)


@login_required
@require_http_methods(["GET", "POST"])
def search_delete(request, pk: int):
    """GET: what deleting the search means; POST: delete it (a running one is stopped)."""
    search = get_search_for_user(request, pk)
    if request.method == "POST":
        search_service.delete_search(search)
        messages.success(request, f"Search {pk} is deleted.")
        return redirect("searchapp-searches")
    return render(request, "searchapp/confirm_delete.html", {"search": search})


@login_required
@require_GET
def search_download(request, pk: int, fmt: str):
    search = get_search_for_user(request, pk)
    try:
        download = search_service.weights_download(search, fmt)
    except search_service.NotFound as exc:
        raise Http404(str(exc)) from None
    return download_response(download)
