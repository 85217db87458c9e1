"""The search pages: list, new-search form (and its estimate: the folds and the cost bound of
the settings as they stand), detail, the final model's mistakes, cancel, delete and the
downloads."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import DurationField, ExpressionWrapper, F
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from searchapp import searches as search_service
from searchapp.estimates import PRESETS, measured_speed, preset_times, progress_context, time_text
from searchapp.forms import (
    SearchForm,
    config_from_form,
    plain_message,
    plain_name,
    search_form_from_dict,
)
from searchapp.models import Dataset, Search
from searchapp.nas.config import SETTINGS, SearchConfig
from searchapp.nas.cost import PETA, pmac
from searchapp.nas.settings import SettingError
from searchapp.params import parse_id
from searchapp.quotas import LimitExceeded, cost_bound, search_cost
from searchapp.serializers import ARTIFACTS, AXES, best_json, chart_axes, folds_text, snapshot
from searchapp.storage import has_mistake_images, mistake_image_path

from .common import download_response, get_search_for_user, png_file_response

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
        initial |= query_settings(request.GET)
        form = SearchForm(initial=initial, user=request.user)
        status = 200
    has_datasets = Dataset.objects.filter(owner=request.user).exists()
    ctx = {"form": form, "has_datasets": has_datasets}
    if has_datasets:
        ctx["preview"] = decisions_preview(preview_form(request.user, form))
        times = ctx["preview"].get("presets", {})
        ctx["presets"] = [p | times.get(p["name"], {}) for p in form.presets()]
        ctx["preset_settings"] = {k: p["settings"] for k, p in PRESETS.items()}
    return render(request, "searchapp/search_new.html", ctx, status=status)


def query_settings(query) -> dict:
    """The settings in a query string that their form fields accept, as the form's initial
    values (the suite page asks for the paper's rule: select_on test); others are ignored."""
    initial = {}
    for s in SETTINGS:
        if s.name not in query:
            continue
        value = query.getlist(s.name) if s.multiple else query[s.name]
        try:
            SearchForm.base_fields[s.name].clean(value)
        except ValidationError:
            continue
        initial[s.name] = value
    return initial


def preview_form(user, form: SearchForm) -> SearchForm:
    """The bound form whose settings the page describes: a posted form as it is, a new one as
    its fields start (the first dataset, the defaults and the query string's settings)."""
    if form.is_bound:
        return form
    first = form.fields["dataset"].queryset.first()
    initial = {"dataset": getattr(first, "pk", None)} | {
        k: v for k, v in form.initial.items() if k in form.fields
    }
    return search_form_from_dict(initial, user)


def decisions_preview(form: SearchForm) -> dict:
    """What the form's settings mean on its dataset, before the search starts: the folds each
    candidate trains on ("auto chose 3 folds for 400 training images: 3 trainings per
    candidate") and the cost bound with them; {"error": why} for settings the form refuses."""
    if not form.is_valid():
        name, first = next(iter(form.errors.items()), (None, ["invalid settings"]))
        text = plain_message(" ".join(first))
        if name in form.fields and plain_name(name).lower() not in text.lower():
            text = f"{plain_name(name)}: {text}"  # Django's own messages do not name the field
        return {"error": f"the settings have errors: {text}"}
    dataset, config = form.cleaned_data["dataset"], SearchConfig.from_dict(form.config)
    n = dataset.num_train
    k = config.folds_for(n)
    note = folds_text(config.folds, k, n, config.select_on)
    cost = search_cost(dataset, form.config)
    ceiling = settings.SEARCH_MAX_COST_PMACS * PETA
    over = f"; over the ceiling of {pmac(ceiling)} per user" if cost.total > ceiling else ""
    speed = measured_speed(form.user)
    return {
        "dataset": dataset.name,
        "folds": k,
        "folds_note": note,
        "cost": cost.describe() + over,
        "candidates": cost.candidates,
        "time": time_text(cost, speed),
        "seconds_per_epoch_image": speed,
        "presets": preset_times(dataset, form.config, speed),
    }


@login_required
@require_GET
def search_estimate(request):
    """The new-search page's preview for the settings in the query string, as JSON: the
    folds auto (or the user) chose on the dataset and the cost bound with them (400 with the
    reason for settings the form refuses)."""
    preview = decisions_preview(SearchForm(request.GET, user=request.user))
    return JsonResponse(preview, status=400 if "error" in preview else 200)


def create_search(user, form: SearchForm) -> Search:
    """Save the valid form's search and queue it once the row is committed."""
    return search_service.create_search(user, form.cleaned_data["dataset"], config_from_form(form))


# ----------------------------------------------------------------------------- one search

MISTAKES_ON_SEARCH_PAGE = 12
"""The most confident mistakes the search page shows; the mistakes page shows them all."""


def final_context(final: dict | None, images: bool = False) -> dict | None:
    """The final model's results as the page draws them (None for a search without them):
    one row per class with its test and validation accuracy and its confusion-matrix row;
    ``images``: the mistakes' images were saved when the search finished."""
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
        "images": images,
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
        "decisions": snap["search"]["decisions"],
        "final": final_context(snap["search"].get("final"), has_mistake_images(search.pk)),
        "in_flight": snap["in_flight"],
        "exports": snap["search"]["exports"],
        "more_downloads": [
            {"kind": kind, "url": url, "label": ARTIFACTS[kind][2]}
            for kind, url in snap["search"]["downloads"].items()
            if kind not in ("pt", "onnx")  # those two have their own buttons
        ],
        "axes": chart_axes(search.settings),
        "latency_note": snap["search"]["board_latency_note"],
        "budget": snap["search"]["budget"],
        "budget_rows": [
            {"axis": k, "label": AXES[k], "limit": v} for k, v in snap["search"]["budget"].items()
        ],
    }
    ctx["baselines_active"] = any(b["active"] for b in ctx["baselines"])
    ctx["cost_bound"] = cost_bound(search)
    try:
        cost = search_cost(search.dataset, search.settings)
    except SettingError:  # settings this version cannot read: no bound to count against
        cost = None
    ctx["progress"] = progress_context(search, snap["candidates"], cost)
    return render(request, "searchapp/search_detail.html", ctx)


@login_required
@require_GET
def search_mistakes(request, pk: int):
    """The final model's misclassified test images (most confident mistakes first)."""
    search = get_search_for_user(request, pk)
    final = final_context(search.final, has_mistake_images(search.pk))
    return render(request, "searchapp/mistakes.html", {"search": search, "final": final})


@login_required
@require_GET
def search_test_image(request, pk: int, index: int):
    """One of the final model's misclassified test images, as the PNG file that the search's
    job wrote when it finished; the web process never loads a dataset's test split."""
    search = get_search_for_user(request, pk)
    path = mistake_image_path(search.pk, index)
    if path is None:
        raise Http404(
            f"search {pk} has no saved image of test image {index}: the images of the final "
            "model's mistakes are saved when a search finishes"
        )
    return png_file_response(path)


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
