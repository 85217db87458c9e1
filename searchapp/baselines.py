"""Baselines as a service: start and cancel MobileNetV2 / EfficientNet-B0 runs for a search.

The runs train in the worker (searchapp.tasks.baselines, which also says with what recipe, seed,
device and input size).
"""

from __future__ import annotations

from django.db import transaction

from .models import BaselineRun, Search
from .tasks import queue
from .tasks.lifecycle import announce_baselines


class BaselineError(ValueError):
    """The search cannot have baselines (yet)."""


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
        announce_baselines(search.pk, "baseline.finished")
