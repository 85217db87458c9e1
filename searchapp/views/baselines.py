"""Start or cancel the baselines (MobileNetV2, EfficientNet-B0) beside a search."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from searchapp import baselines

from .common import get_search_for_user


def _baselines_section(search) -> str:
    return reverse("searchapp-search", args=[search.pk]) + "#baselines"


@login_required
@require_POST
def search_baselines(request, pk: int):
    search = get_search_for_user(request, pk)
    try:
        baselines.start_baselines(search)
    except baselines.BaselineError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Baselines queued: MobileNetV2, then EfficientNet-B0.")
    return redirect(_baselines_section(search))


@login_required
@require_POST
def search_baselines_cancel(request, pk: int):
    search = get_search_for_user(request, pk)
    baselines.cancel_baselines(search)
    return redirect(_baselines_section(search))
