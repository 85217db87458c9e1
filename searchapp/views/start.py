"""The start page: three steps, Upload -> Search -> Deploy, and where the user stands in each."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from searchapp.models import Dataset, Search
from searchapp.serializers import ARTIFACTS, arch_short, downloads

FAILED_OR_STOPPED = (Search.Status.FAILED, Search.Status.CANCELLED)


def stage_of(has_dataset: bool, active: Search | None, ready: Search | None) -> str:
    """The step the user is at: "upload", "search", "running" or "deploy"."""
    if not has_dataset:
        return "upload"
    if active is not None:
        return "running"
    if ready is not None:
        return "deploy"
    return "search"


def model_links(search: Search) -> list[dict]:
    """The finished search's files that exist, each with its download URL and label."""
    return [
        {"kind": kind, "url": url, "label": ARTIFACTS[kind][2]}
        for kind, url in downloads(search).items()
    ]


@login_required
@require_GET
def start_page(request):
    user = request.user
    datasets = Dataset.objects.filter(owner=user)
    latest_dataset = datasets.order_by("-created", "-pk").first()
    searches = Search.objects.filter(owner=user).select_related("dataset", "best")
    active = searches.filter(status__in=Search.ACTIVE).order_by("-created", "-pk").first()
    finished = searches.filter(status=Search.Status.FINISHED, best__isnull=False).order_by(
        "-finished", "-pk"
    )
    ready = finished.exclude(outputs={}).first() or finished.first()  # one with files, if any
    latest = searches.order_by("-created", "-pk").first()
    new_search = reverse("searchapp-search-new")
    if latest_dataset is not None:
        new_search += f"?dataset={latest_dataset.pk}"
    ctx = {
        "stage": stage_of(latest_dataset is not None, active, ready),
        "dataset_count": datasets.count(),
        "latest_dataset": latest_dataset,
        "new_search_url": new_search,
        "active": active,
        "active_candidates": active.candidates.count() if active else 0,
        "last_problem": latest if latest and latest.status in FAILED_OR_STOPPED else None,
        "ready": ready,
        "ready_arch": arch_short(ready.best.arch) if ready else "",
        "ready_links": model_links(ready) if ready else [],
    }
    return render(request, "searchapp/start.html", ctx)
