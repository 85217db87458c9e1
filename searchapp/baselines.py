"""Baselines as a service: start and cancel MobileNetV2 / EfficientNet-B0 runs for a search.

The runs train in the worker (searchapp.tasks.baselines) with the search's recipe, epochs, batch
size, seed and device, at the input size the search trained at.
"""

from __future__ import annotations

from django.db import transaction

from .models import BaselineRun, Search
from .serializers import baseline_rows
from .tasks import broadcast, queue


class BaselineError(ValueError):
    """The search cannot have baselines (yet)."""


def search_stem(search: Search) -> str:
    """The stem the search trained with: its setting, else its best arch's, else by size."""
    from searchapp.nas.space import default_stem

    stem = (search.settings or {}).get("stem")
    if not stem and search.best is not None:
        stem = (search.best.arch or {}).get("stem")
    return stem or default_stem(search.dataset.image_size)


def input_size(search: Search) -> int | None:
    """The side the baselines see: 224 when the search upscaled, else the data's own (None)."""
    from searchapp.nas.space import IMAGENET_STEM_INPUT

    if search_stem(search) == "imagenet" and search.dataset.image_size != IMAGENET_STEM_INPUT:
        return IMAGENET_STEM_INPUT
    return None


def start_baselines(search: Search) -> list[BaselineRun]:
    """Replace the search's baseline runs by fresh ones and queue their job after commit."""
    if search.status != Search.Status.FINISHED:
        raise BaselineError("baselines need a finished search")
    if search.baselines.filter(status__in=BaselineRun.ACTIVE).exists():
        raise BaselineError("baselines are already queued or running for this search")
    job_id = queue.BASELINES.new_id(search.pk)
    with transaction.atomic():
        search.baselines.all().delete()
        runs = [
            BaselineRun.objects.create(search=search, name=n, rq_job_id=job_id)
            for n in BaselineRun.NAMES
        ]
        rows = BaselineRun.objects.filter(search_id=search.pk, rq_job_id=job_id)
        queue.BASELINES.enqueue_on_commit(
            search.pk,
            job_id,
            lambda error: queue.mark_ended(rows, BaselineRun.Status.FAILED, error),
        )
    return runs


def cancel_baselines(search: Search) -> None:
    """Queued runs end now; a running one stops within an epoch (it checks the flag)."""
    ended = queue.mark_ended(
        search.baselines.filter(status=BaselineRun.Status.QUEUED),
        BaselineRun.Status.CANCELLED,
        cancel_requested=True,
    )
    search.baselines.filter(status=BaselineRun.Status.RUNNING).update(cancel_requested=True)
    if ended:
        announce(search.pk, "baseline.finished")


def announce(search_id: int, event_type: str) -> None:
    """Send the search's baseline rows to its page, numbered with the search's events
    ("baseline.progress" or "baseline.finished"); the page replaces its rows with them."""
    broadcast.record(search_id, event_type, lambda search: {"baselines": baseline_rows(search)})
