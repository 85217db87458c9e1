"""Searches as a service: what pages, the API and management commands do with them.

Views and commands call these; none of them builds a Search or touches its job by hand.

A new search waits in the database until it is admitted to the workers in turn (fair share:
tasks.lifecycle.admit_waiting, which the jobs call too).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from . import quotas
from .models import Candidate, Dataset, Search
from .serializers import ARTIFACTS
from .storage import dataset_dir, media_path, search_dir
from .tasks import queue
from .tasks.lease import holder
from .tasks.lifecycle import admit_waiting, fail_search, finish_search, lock_user, name_new_job

log = logging.getLogger(__name__)

WEIGHT_FORMATS = tuple(ARTIFACTS)  # every artifact a search can hand over (Search.outputs keys)
DIRECT = "direct"
"""rq_job_id of a search run in its caller's process (`manage.py search --sync`): never admitted
to the queue; the reconciler queues it if that process dies."""


def create_search(owner, dataset: Dataset, settings: dict, *, run_here: bool = False) -> Search:
    """Save a search with validated settings (SearchConfig.to_dict()); it waits for its turn
    on the workers, or with `run_here` the caller runs it. LimitExceeded when the owner is
    over a limit (quotas.check_new_search)."""
    with transaction.atomic():
        lock_user(owner.pk)  # two requests of one user cannot both pass the limits
        quotas.check_new_search(owner, dataset, settings)
        search = Search.objects.create(
            owner=owner, dataset=dataset, settings=settings, rq_job_id=DIRECT if run_here else ""
        )
        if not run_here:
            transaction.on_commit(admit_waiting)
    search.refresh_from_db()
    return search


def cancel_search(search: Search) -> None:
    """Ask an active search to stop (a queued one ends now); a finished one is left alone."""
    if search.is_active:
        cancel_job(search)
        search.refresh_from_db()


def delete_search(search: Search) -> None:
    """Delete the search, its candidates, baselines and files; a running one is stopped.

    The row goes at once. A job still running the search sees that within an epoch (its
    cancel flag), ends quietly and removes the files it wrote; without a running job the
    files go now (and the reconciler removes any that a dead job left behind).
    """
    search_id, job_id = search.pk, search.rq_job_id
    with transaction.atomic():
        search.delete()
        transaction.on_commit(lambda: _after_delete(search_id, job_id))


def delete_dataset(dataset: Dataset) -> None:
    """Delete the dataset, its files and every search on it (as delete_search does)."""
    dataset_id = dataset.pk
    with transaction.atomic():
        for search in Search.objects.filter(dataset=dataset):
            delete_search(search)
        dataset.delete()
        transaction.on_commit(lambda: shutil.rmtree(dataset_dir(dataset_id), ignore_errors=True))


def _after_delete(search_id: int, job_id: str) -> None:
    """Remove the deleted search's files unless a job still runs it; free its slot."""
    try:
        running = holder(queue.connection(), search_id) is not None
    except Exception as exc:  # noqa: BLE001 - Redis down: the job or the reconciler cleans up
        log.warning("search %s deleted; cannot tell whether a job runs it: %s", search_id, exc)
        running = bool(job_id)
    if not running:
        if job_id and job_id != DIRECT:
            _cancel_rq_job(job_id)  # it would find no row and skip, but need not start at all
        shutil.rmtree(search_dir(search_id), ignore_errors=True)
    admit_waiting()  # its slot on the workers is free


class NotFound(LookupError):
    """The user has no such object: another user's objects do not exist for them."""


def owned_search(user, pk: int) -> Search:
    """The user's search `pk`; NotFound when they have none by that number."""
    try:
        return Search.objects.select_related("dataset", "best").get(pk=pk, owner=user)
    except Search.DoesNotExist:
        raise NotFound(f"no search {pk}") from None


@dataclass(frozen=True)
class Download:
    """A file handed over as an attachment: where it is, its name and its content type."""

    path: Path
    filename: str
    content_type: str


ALL = "all"  # the download kind of one zip of every file the search handed over


def weights_download(search: Search, fmt: str) -> Download:
    """The search's artifact of kind `fmt` (a key of ARTIFACTS, or ALL: a zip of them all),
    named after the search; NotFound when there is none."""
    if fmt == ALL:
        return _all_files_zip(search)
    rel = (search.outputs or {}).get(fmt)
    if fmt not in WEIGHT_FORMATS or not rel or not media_path(rel).is_file():
        raise NotFound("no weights of that kind for this search")
    name, content_type, _ = ARTIFACTS[fmt]
    # Guessing from the name gives .pt "application/vnd.snesdev-page-table": say it ourselves.
    return Download(media_path(rel), name.format(pk=search.pk), content_type)


def _all_files_zip(search: Search) -> Download:
    """Every artifact of the search in one zip under their download names, written once to the
    search's folder (file by file: memory stays bounded) and again when a file is newer."""
    import zipfile

    files = {
        ARTIFACTS[k][0].format(pk=search.pk): media_path(rel)
        for k, rel in (search.outputs or {}).items()
        if k in WEIGHT_FORMATS and rel and media_path(rel).is_file()
    }
    if not files:
        raise NotFound("this search has no files to download")
    target = search_dir(search.pk) / f"mininas-search{search.pk}-all.zip"
    newest = max(p.stat().st_mtime for p in files.values())
    if not target.is_file() or target.stat().st_mtime < newest:
        partial = target.with_suffix(".zip.part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, path in files.items():
                zf.write(path, name)
        partial.replace(target)
    return Download(target, target.name, "application/zip")


# ----------------------------------------------------------------------------- one candidate


class Conflict(Exception):
    """The request is fine but the object's state refuses it now (HTTP 409); says why."""


def owned_candidate(search: Search, index: int) -> Candidate:
    """Candidate ``index`` of the (already owned) search; NotFound when it has none."""
    cand = search.candidates.filter(index=index).first()
    if cand is None:
        raise NotFound(f"no candidate {index} in search {search.pk}")
    return cand


def start_export(search: Search, index: int) -> dict:
    """Queue the export of candidate ``index`` (tasks/export.py) unless it is queued, running
    or done already; returns its export state. Conflict while the search is active, for a
    candidate that was never trained, or for a search that left no result.json."""
    from .tasks.export_state import DONE, FAILED, IN_PROGRESS, QUEUED, set_state

    if search.is_active:
        raise Conflict("the search is still running: export its candidates once it has ended")
    cand = owned_candidate(search, index)
    if cand.status != "ok" or cand.test_acc is None:
        raise Conflict(f"candidate {index} was not trained ({cand.status}): nothing to export")
    if not (search_dir(search.pk) / "result.json").is_file():
        raise Conflict(
            "this search wrote no result.json, so none of its candidates can be exported"
        )
    with transaction.atomic():
        cand = Candidate.objects.select_for_update().get(pk=cand.pk)
        state = cand.export or {}
        if state.get("status") == DONE or (
            state.get("status") in IN_PROGRESS and not _job_lost(state.get("job"))
        ):
            return state
        job_id = queue.EXPORT.new_id(search.pk)
        state = {"status": QUEUED, "job": job_id, "queued": timezone.now().isoformat()}
        cand.export = state
        cand.save(update_fields=["export"])

        def enqueue(pk=cand.pk, search_id=search.pk) -> None:
            try:
                queue.EXPORT.enqueue(search_id, job_id, index)
            except Exception as exc:  # noqa: BLE001 - Redis down: say so on the row
                log.error("could not enqueue %s: %s", job_id, exc)
                set_state(pk, status=FAILED, job=job_id, error=f"could not queue the job: {exc}")

        transaction.on_commit(enqueue)
    return state


def _job_lost(job_id: str | None) -> bool:
    """True when an export's RQ job is gone or ended without finishing it (a dead worker):
    asking again queues a new one. False when Redis cannot tell."""
    if not job_id:
        return True
    try:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            status = Job.fetch(job_id, connection=queue.connection()).get_status()
        except NoSuchJobError:
            return True
    except Exception as exc:  # noqa: BLE001 - Redis down: keep the state as it is
        log.info("cannot tell whether export job %s lives: %s", job_id, exc)
        return False
    return str(getattr(status, "value", status)) in ("failed", "stopped", "canceled", "finished")


def candidate_download(search: Search, index: int, fmt: str) -> Download:
    """Exported candidate ``index``'s artifact of kind ``fmt``; NotFound when there is none."""
    rel = ((owned_candidate(search, index).export or {}).get("outputs") or {}).get(fmt)
    if fmt not in WEIGHT_FORMATS or not rel or not media_path(rel).is_file():
        raise NotFound("no file of that kind for this candidate")
    name, content_type, _ = ARTIFACTS[fmt]
    return Download(media_path(rel), name.format(pk=f"{search.pk}-candidate{index}"), content_type)


def exported_candidates(search: Search) -> list[dict]:
    """The search's candidates with an export asked for, for its page: index, architecture,
    state (queued, running, done, failed + error), final test accuracy and the files
    [{"kind", "label", "url"}] of a done one."""
    from django.urls import reverse

    from .serializers import arch_short

    rows = []
    for c in search.candidates.exclude(export={}).order_by("index"):
        state, outputs = c.export or {}, (c.export or {}).get("outputs") or {}
        files = [
            {"kind": kind, "label": ARTIFACTS[kind][2], "url": reverse(
                "api-candidate-export-file", args=[search.pk, c.index, kind])}
            for kind in WEIGHT_FORMATS
            if kind in outputs
        ]  # fmt: skip
        rows.append(
            {"index": c.index, "arch_short": arch_short(c.arch), "status": state.get("status"),
             "error": state.get("error", ""), "test_acc": state.get("test_acc"), "files": files}
        )  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- its job


def enqueue_search(search: Search) -> None:
    """Queue the search once the current transaction commits (the worker must see the row),
    out of turn: tests and benchmarks use it; users' searches wait for admit_waiting."""
    search_id = search.pk
    search.rq_job_id = name_new_job(search)
    queue.SEARCH.enqueue_on_commit(
        search_id, search.rq_job_id, lambda error: fail_search(search_id, error)
    )


def cancel_job(search: Search) -> None:
    """Ask a search to stop: a running job sees the flag within an epoch; a queued one ends now."""
    Search.objects.filter(pk=search.pk).update(cancel_requested=True)
    search.cancel_requested = True
    if search.status != Search.Status.QUEUED:
        return
    if search.rq_job_id:
        _cancel_rq_job(search.rq_job_id)
    finish_search(search.pk, Search.Status.CANCELLED)


def _cancel_rq_job(job_id: str) -> None:
    try:
        from rq.job import Job

        Job.fetch(job_id, connection=queue.connection()).cancel()
    except Exception as exc:  # noqa: BLE001 - the job checks its row when it starts anyway
        log.info("could not cancel rq job %s: %s", job_id, exc)
