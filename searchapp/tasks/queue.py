"""What every job shares: its id, its queue, how it is enqueued, how it fails, how it is cancelled.

The kinds of job are declared here, once (name, function, queue, timeout setting, how long
RQ keeps a result), and every job is queued through `JobKind.enqueue`. The function is named by
its dotted path, so the web process queues a job without importing the job's module (and the
engine and torch behind it). A job id is `<kind>-<row id>-<8 hex>` ("search-12-ab34cd56"): made
by `JobKind.new_id` and read back by `parse_job_id` (the worker uses it to find the search of a
dead work-horse).
"""

from __future__ import annotations

import errno
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

log = logging.getLogger(__name__)

GPU_QUEUE = "gpu"
"""Searches and baselines; one worker per GPU."""
CPU_QUEUE = "default"
"""Deriving the paper's suite and packing uploads; workers take it after "gpu"
(`rqworker gpu default`)."""
RESULT_TTL = 7 * 24 * 3600
"""Seconds RQ keeps a finished job's result."""
CANDIDATE_RESULT_TTL = 3600
"""Seconds RQ keeps a candidate job's result (its figures are in Redis and the database)."""
FAILURE_TTL = 30 * 24 * 3600
"""Seconds RQ keeps a failed job (and its traceback)."""
CANCEL_POLL_SECONDS = 0.5
"""should_stop may be called per batch; the database is asked at most this often."""
ERROR_CHARS = 5000
"""The longest error message saved on a row."""


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its id prefix, the function RQ runs with a row's id, its queue, the
    setting that holds its timeout (RQ's own default, 180 s, is far too short) and how long RQ
    keeps its result."""

    name: str
    func: str  # dotted path of the function RQ imports in the worker
    queue: str
    timeout_setting: str
    result_ttl: int = RESULT_TTL

    def new_id(self, pk: int) -> str:
        """A fresh job id for row `pk`: "search-12-ab34cd56" (parse_job_id reads it back)."""
        return f"{self.name}-{pk}-{uuid.uuid4().hex[:8]}"

    def enqueue(self, pk: int, job_id: str, *args) -> None:
        """Put the job ``func(pk, *args)`` on its queue now (the row must already be committed);
        ``args`` must be plain data."""
        import django_rq

        # commit_mode "auto": callers are past the commit; don't defer a second time.
        django_rq.get_queue(self.queue, commit_mode="auto").enqueue(
            self.func,
            pk,
            *args,
            job_id=job_id,
            job_timeout=getattr(settings, self.timeout_setting),
            result_ttl=self.result_ttl,
            failure_ttl=FAILURE_TTL,
        )

    def enqueue_on_commit(self, pk: int, job_id: str, on_error: Callable[[str], None]) -> None:
        """Enqueue once the current transaction commits (the worker must see the row).

        When Redis cannot take the job, `on_error(message)` records why on the row itself.
        """

        def _enqueue() -> None:
            try:
                self.enqueue(pk, job_id)
            except Exception as exc:  # noqa: BLE001 - Redis down: say so on the row
                log.error("could not enqueue %s: %s", job_id, exc)
                on_error(f"could not queue the job: {exc}")

        transaction.on_commit(_enqueue)

    def failure_reason(self, exc: BaseException) -> str:
        """A message a user can act on, for the row of a failed job of this kind."""
        from rq.timeouts import JobTimeoutException

        if isinstance(exc, JobTimeoutException):
            return (
                f"timed out: the job ran longer than its timeout ({exc}); "
                f"raise {self.timeout_setting} to give it more time. Finished work is kept."
            )
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            name = Path(str(exc.filename or "")).name.lstrip(".").removesuffix(".tmp")
            where = f" while writing {name}" if name else ""
            return f"disk full{where}: {exc.strerror or exc}. Free space and start again."
        return f"{type(exc).__name__}: {exc}"


def parse_job_id(job_id: str | None) -> tuple[str, int] | None:
    """'search-12-ab34cd56' -> ("search", 12); None for an id that JobKind.new_id did not make."""
    parts = (job_id or "").split("-")
    if len(parts) == 3 and parts[0] and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None


def connection():
    """The Redis connection of the queues (they share one Redis)."""
    import django_rq

    return django_rq.get_connection(GPU_QUEUE)


def mark_ended(rows: models.QuerySet, status: str, error: str = "", **fields) -> int:
    """Set the rows' final status and finish time (and error, cut to ERROR_CHARS)."""
    return rows.update(status=status, finished=timezone.now(), error=error[:ERROR_CHARS], **fields)


class CancelFlag:
    """should_stop() of every job: true once the row's cancel_requested is set or the row is
    deleted, or once ``stop_key`` exists in Redis (a search's coordinator has stopped its
    candidates; see redis_protocol.py), read throttled; or once `lost()` says another job has
    taken the work over."""

    def __init__(
        self,
        model: type[models.Model],
        pk: int,
        lost: Callable[[], bool] | None = None,
        stop_key: str | None = None,
        redis=None,
    ):
        self.rows = model.objects.filter(pk=pk, cancel_requested=False)
        self.lost = lost
        self.stop_key = stop_key
        self.redis = redis if redis is not None or stop_key is None else connection()
        self.checked = 0.0
        self.value = False

    def __call__(self, *args, **kwargs) -> bool:
        if self.lost is not None and self.lost():
            return True
        now = time.monotonic()
        if not self.value and now - self.checked >= CANCEL_POLL_SECONDS:
            self.checked = now
            self.value = not self.rows.exists() or self._stopped()
        return self.value

    def _stopped(self) -> bool:
        return self.stop_key is not None and bool(self.redis.exists(self.stop_key))


SEARCH = JobKind("search", "searchapp.tasks.search.run_search_job", GPU_QUEUE, "SEARCH_JOB_TIMEOUT")
# Baselines train as long as a search may (the same recipe on bigger nets).
BASELINES = JobKind(
    "baselines", "searchapp.tasks.baselines.run_baselines_job", GPU_QUEUE, "SEARCH_JOB_TIMEOUT"
)
CANDIDATE = JobKind(
    "candidate",
    "searchapp.tasks.candidates.run_candidate_job",
    GPU_QUEUE,
    "SEARCH_JOB_TIMEOUT",
    result_ttl=CANDIDATE_RESULT_TTL,
)
"""One candidate of a search with --parallel N > 1, fanned out by the search's job; its
``pk`` is the search's id, followed by the candidate's record and architecture."""
SUITE = JobKind("suite", "searchapp.tasks.suite.run_suite_job", CPU_QUEUE, "SUITE_JOB_TIMEOUT")
EXPORT = JobKind("export", "searchapp.tasks.export.run_export_job", GPU_QUEUE, "SEARCH_JOB_TIMEOUT")
"""One candidate of a finished search trained and exported on its own (tasks/export.py);
``pk`` is the search's id, followed by the candidate's index."""
PACK = JobKind("pack", "searchapp.tasks.pack.run_pack_job", CPU_QUEUE, "PACK_JOB_TIMEOUT")
"""An uploaded dataset decoded and packed; ``pk`` is the dataset's id (tasks/pack.py)."""
