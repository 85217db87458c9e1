"""The RQ worker for searches: rq.Worker that also puts orphaned searches back in the queue.

    python manage.py rqworker gpu --worker-class searchapp.tasks.worker.Worker

It reconciles (tasks/reconcile.py) when it starts, every RECONCILE_SECONDS while idle, and
at once when a job's work-horse dies (killed, out of host memory), after dropping that job's
lease. A worker busy with a search does not reconcile; `python manage.py reconcile --loop` does
it from outside the workers where every worker may be busy for long.
"""

from __future__ import annotations

import logging
import time

import rq
from django.conf import settings
from django.db import connections

from .lease import release_for_job
from .queue import CANDIDATE, SEARCH, parse_job_id
from .reconcile import reconcile

log = logging.getLogger(__name__)


class Worker(rq.Worker):
    _next_reconcile = 0.0

    @property
    def dequeue_timeout(self) -> int:
        # wake up this often while idle, to reconcile (rq's default is worker_ttl - 15 s)
        return max(1, min(settings.RECONCILE_SECONDS, self.worker_ttl - 15))

    @property
    def should_run_maintenance_tasks(self) -> bool:
        return super().should_run_maintenance_tasks or time.monotonic() >= self._next_reconcile

    def run_maintenance_tasks(self) -> None:
        if super().should_run_maintenance_tasks:
            super().run_maintenance_tasks()
        if time.monotonic() >= self._next_reconcile:
            self.reconcile()

    def reconcile(self) -> list[int]:
        self._next_reconcile = time.monotonic() + settings.RECONCILE_SECONDS
        try:
            return reconcile(self.connection)
        except Exception:  # noqa: BLE001 - never let bookkeeping stop the worker
            log.exception("reconcile failed")
            return []
        finally:
            connections.close_all()  # no DB connection may be shared with a forked horse

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage) -> None:
        """The horse died without finishing: free its search at once for a new job."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        kind, search_id = parse_job_id(job.id) or ("", None)
        try:
            if kind == SEARCH.name:
                release_for_job(self.connection, search_id, job.id)
            elif kind == CANDIDATE.name:  # its coordinator queues the candidate again at once
                from .candidates import release_claim

                release_claim(self.connection, job)
        except Exception:  # noqa: BLE001 - it expires on its own
            log.exception("could not release the lease or claim of job %s", job.id)
        self._next_reconcile = 0.0  # the next loop turn reconciles (after rq marks it failed)
