"""Pages for derived datasets, the paper's suite, baselines and the report. Owner-only."""

from __future__ import annotations

import functools
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from searchapp.nas.data import DataError

from . import baselines, derive, report, searches
from .derive_forms import DeriveForm
from .models import SuiteRun
from .serializers import suite_snapshot
from .suite import start_suite

# ----------------------------------------------------------------------------- derive


@functools.lru_cache(maxsize=4)
def _tiny_classes(path: str, mtime: float) -> list[dict]:
    from searchapp.nas.derived import tinyimagenet_classes

    return [{"wnid": c.wnid, "words": ", ".join(c.words)} for c in tinyimagenet_classes(path)]


def tiny_class_list() -> tuple[list[dict], str]:
    """Tiny-ImageNet's classes when its archive is present (cached per file version)."""
    path = derive.source_path("tinyimagenet")
    if path is None:
        return [], ""
    try:
        return _tiny_classes(str(path), path.stat().st_mtime), ""
    except DataError as exc:
        return [], str(exc)


@login_required
@require_http_methods(["GET", "POST"])
def derive_new(request):
    status = 200
    if request.method == "POST":
        form = DeriveForm(request.POST)
        if form.is_valid():
            kind = form.cleaned_data["kind"]
            try:
                source = derive.resolve_source(kind)
                dataset = derive.create_derived_dataset(
                    request.user,
                    kind,
                    form.cleaned_data["classes"],
                    source,
                    name=form.cleaned_data["name"],
                    upscale=form.cleaned_data["upscale_flag"],
                )
            except DataError as exc:
                # about the class list: beside it; about the archive: form-wide
                field = form.class_field if exc.field == "classes" else None
                form.add_error(field, str(exc))
            else:
                messages.success(
                    request,
                    f"Derived {dataset.name}: {dataset.num_train} train / "
                    f"{dataset.num_test} test images"
                    + (f" (the paper's suite entry {dataset.suite!r})." if dataset.suite else "."),
                )
                return redirect(dataset)
        status = 400
    else:
        kind = request.GET.get("kind", "cifar10")
        form = DeriveForm(initial={"kind": kind if kind in derive.KIND_LABELS else "cifar10"})
    tiny, tiny_error = tiny_class_list()
    ctx = {
        "form": form,
        "sources_dir": derive.sources_dir(),
        "sources": derive.source_status(),
        "found_files": derive.found_files(),
        "tiny_classes": tiny,
        "tiny_error": tiny_error,
    }
    return render(request, "searchapp/derive.html", ctx, status=status)


# ----------------------------------------------------------------------------- the suite


@login_required
@require_GET
def suite(request):
    run = SuiteRun.objects.filter(owner=request.user).first()
    ctx = {
        "suite": suite_snapshot(request.user, run),  # what the page's socket sends too
        "run": run,
        "sources": derive.source_status(),
        "sources_dir": derive.sources_dir(),
    }
    return render(request, "searchapp/suite.html", ctx)


@login_required
@require_POST
def suite_create(request):
    if SuiteRun.objects.filter(owner=request.user, status__in=SuiteRun.ACTIVE).exists():
        messages.info(request, "The suite is already being created.")
        return redirect("searchapp-suite")
    missing = [s for s in derive.source_status() if not s["found"]]
    if len(missing) == len(derive.source_status()):
        messages.error(
            request, "No source archive found: " + " ".join(s["message"] for s in missing)
        )
        return redirect("searchapp-suite")
    start_suite(request.user)
    text = "Creating the paper's suite in the background; this page shows each dataset as it comes."
    for s in missing:
        text += f" {s['label']} datasets are skipped: {s['message']}"
    messages.success(request, text)
    return redirect("searchapp-suite")


# ----------------------------------------------------------------------------- baselines


@login_required
@require_POST
def search_baselines(request, pk: int):
    search = searches.owned_search(request.user, pk)
    try:
        baselines.start_baselines(search)
    except baselines.BaselineError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Baselines queued: MobileNetV2, then EfficientNet-B0.")
    return redirect(reverse("searchapp-search", args=[search.pk]) + "#baselines")


@login_required
@require_POST
def search_baselines_cancel(request, pk: int):
    search = searches.owned_search(request.user, pk)
    baselines.cancel_baselines(search)
    return redirect(reverse("searchapp-search", args=[search.pk]) + "#baselines")


# ----------------------------------------------------------------------------- report


def _report_rows(request) -> tuple[list[dict], dict]:
    suite_only = request.GET.get("suite") in ("1", "on", "true", "yes")
    ids = [int(v) for v in request.GET.getlist("search") if v.isdigit() and len(v) < 12]
    searches = report.select_searches(request.user, suite_only=suite_only, ids=ids or None)
    params = {"suite": suite_only, "ids": ids}
    return report.report_rows(searches), params


@login_required
@require_GET
def report_page(request):
    rows, params = _report_rows(request)
    query = request.GET.urlencode()
    chart = {
        "labels": [r["dataset"] for r in rows],
        "hours": [r["cost_hours"] for r in rows],
        "paper": [r["paper_gpu_hours"] for r in rows],
        "unit": report.cost_unit(rows),
    }
    ctx = {
        "rows": rows,
        "summary": report.summary(rows),
        "cost_unit": report.cost_unit(rows),
        "notes": report.NOTES,
        "suite_only": params["suite"],
        "query": f"?{query}" if query else "",
        "chart": chart,
    }
    return render(request, "searchapp/report.html", ctx)


@login_required
@require_GET
def report_csv(request):
    rows, _ = _report_rows(request)
    response = HttpResponse(report.to_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mininas-report.csv"'
    return response


@login_required
@require_GET
def report_json(request):
    rows, _ = _report_rows(request)
    return HttpResponse(json.dumps(report.to_json(rows), indent=1), content_type="application/json")
