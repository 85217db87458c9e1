"""The paper's suite: the derived datasets it needs, created in the background."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from searchapp import derive
from searchapp.models import SuiteRun
from searchapp.serializers import suite_snapshot
from searchapp.suite import start_suite


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
