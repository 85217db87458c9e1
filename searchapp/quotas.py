"""Per-user limits on searches and uploads, checked when one is created (fair share).

Each limit is a setting (mininas_web/settings.py, README "Limits"), and a refusal gives the
numbers and the setting's name. The storage quota is checked where datasets are packed
(searchapp/storage.py); the turn a search takes on the workers is tasks.lifecycle.admit_waiting.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from searchapp.nas.config import SearchConfig
from searchapp.nas.cost import PETA, Cost, estimate, pmac
from searchapp.nas.settings import SettingError

from .models import Dataset, Search, Upload


class LimitExceeded(Exception):
    """Over a per-user limit. `status` is the API's answer: 429 when waiting (or cancelling
    something) helps, 400 when the request itself is too big."""

    def __init__(self, message: str, setting: str, status: int = 429):
        super().__init__(message)
        self.setting = setting
        self.status = status


def search_cost(dataset: Dataset, config: dict) -> Cost:
    """The most a search with these settings (SearchConfig.to_dict()) may cost on `dataset`."""
    return estimate(
        SearchConfig.from_dict(config),
        images=dataset.num_train,
        image_size=dataset.image_size,
        num_classes=max(2, dataset.num_classes),
    )


def cost_bound(search: Search) -> str:
    """The search's cost bound as the search page shows it ("" for settings this version
    cannot read), its final training included."""
    try:
        return search_cost(search.dataset, search.settings).describe()
    except SettingError:
        return ""


def check_new_search(owner, dataset: Dataset, config: dict) -> Cost:
    """Refuse a search over the cost ceiling, past the queue limit, or over what the owner's
    waiting and running searches leave of the ceiling; returns its cost otherwise."""
    ceiling = settings.SEARCH_MAX_COST_PMACS * PETA
    cost = search_cost(dataset, config)
    if cost.total > ceiling:
        raise LimitExceeded(
            f"this search may cost up to {cost.describe()}, over the ceiling of "
            f"{pmac(ceiling)} per user (SEARCH_MAX_COST_PMACS): lower the epochs, the "
            "maximum depth or width, or the kernel sizes",
            "SEARCH_MAX_COST_PMACS",
            status=400,
        )
    active = list(
        Search.objects.filter(owner=owner, status__in=Search.ACTIVE).select_related("dataset")
    )
    waiting = sum(s.status == Search.Status.QUEUED for s in active)
    limit = settings.SEARCH_MAX_QUEUED_PER_USER
    if waiting >= limit:
        raise LimitExceeded(
            f"you have {waiting} searches waiting to start; at most {limit} may wait per "
            "user (SEARCH_MAX_QUEUED_PER_USER): wait for one to start, or cancel one",
            "SEARCH_MAX_QUEUED_PER_USER",
        )
    held = sum(search_cost(s.dataset, s.settings).total for s in active)
    if held + cost.total > ceiling:
        raise LimitExceeded(
            f"this search may cost up to {pmac(cost.total)}; with your {len(active)} waiting "
            f"or running searches ({pmac(held)}) that is over the ceiling of {pmac(ceiling)} "
            "per user (SEARCH_MAX_COST_PMACS): wait for one to finish, or cancel one",
            "SEARCH_MAX_COST_PMACS",
        )
    return cost


def check_new_upload(owner) -> None:
    """Refuse a folder upload past the owner's unfinished ones (abandoned ones expire)."""
    stale = timedelta(seconds=settings.UPLOAD_STALE_SECONDS)
    open_uploads = Upload.objects.filter(owner=owner, created__gt=timezone.now() - stale)
    limit = settings.UPLOAD_MAX_UNFINISHED_PER_USER
    count = open_uploads.count()
    if count >= limit:
        oldest = open_uploads.order_by("created").first()
        expires = (oldest.created + stale).strftime("%Y-%m-%d %H:%M UTC")
        raise LimitExceeded(
            f"you have {count} unfinished folder uploads; at most {limit} per user "
            f"(UPLOAD_MAX_UNFINISHED_PER_USER): finish one, or wait until {expires} when the "
            "oldest is given up",
            "UPLOAD_MAX_UNFINISHED_PER_USER",
        )
