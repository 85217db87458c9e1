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


def missing_reason(user, source: dict) -> str:
    """Why an archive is missing: with the server's path and checksum for staff only."""
    return source["message"] if user.is_staff else f"no {source['file']} on the server."


@login_required
@require_GET
def suite(request):
    run = SuiteRun.objects.filter(owner=request.user).first()
    sources = derive.source_status()
    ctx = {
        "suite": suite_snapshot(request.user, run),  # what the page's socket sends too
        "run": run,
        "staff": request.user.is_staff,
        "sources": sources,
        "any_found": any(s["found"] for s in sources),
    }
    return render(request, "searchapp/suite.html", ctx)


@login_required
@require_POST
def suite_create(request):
    if SuiteRun.objects.filter(owner=request.user, status__in=SuiteRun.ACTIVE).exists():
        messages.info(request, "The suite is already being created.")
        return redirect("searchapp-suite")
    sources = derive.source_status()
    missing = [s for s in sources if not s["found"]]
    if len(missing) == len(sources):
        why = " ".join(missing_reason(request.user, s) for s in missing)
        messages.error(request, "No source archive found: " + why)
        return redirect("searchapp-suite")
    start_suite(request.user)
    text = "Creating the paper's suite in the background; this page shows each dataset as it comes."
    for s in missing:
        text += f" {s['label']} datasets are skipped: {missing_reason(request.user, s)}"
    messages.success(request, text)
    return redirect("searchapp-suite")
