"""The paper's suite as a service: start a run that derives every entry the owner lacks.

The run itself is a job on the CPU queue (searchapp.tasks.suite); its page follows it live.
"""

from __future__ import annotations

from django.db import transaction

from .models import SuiteRun
from .tasks import queue


def start_suite(owner) -> SuiteRun:
    """Record a suite run and queue its job once committed (the worker must see the row)."""
    with transaction.atomic():
        run = SuiteRun.objects.create(owner=owner)
        run.rq_job_id = queue.SUITE.new_id(run.pk)
        run.save(update_fields=["rq_job_id"])
        rows = SuiteRun.objects.filter(pk=run.pk)
        queue.SUITE.enqueue_on_commit(
            run.pk,
            run.rq_job_id,
            lambda error: queue.mark_ended(rows, SuiteRun.Status.FAILED, error),
        )
    return run
