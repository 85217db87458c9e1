"""The export job: one trained candidate of a finished search, trained and exported on its own.

It runs the engine's export_candidate (searchapp/nas/export_candidate.py, the CLI's `export`)
on the search's result.json and dataset, and writes the files under
``searches/<id>/candidates/<index>/`` (export_state.export_dir). Its state lives on the
candidate's row, ``Candidate.export``: queued, running, done (with the files) or failed (with
the reason). Like the search job, the engine (and torch) is imported inside the job only.
"""

from __future__ import annotations

import logging
import shutil

from django.utils import timezone

from ..models import Candidate
from ..storage import media_path, search_dir
from . import queue
from .export_state import DONE, FAILED, QUEUED, RUNNING, export_dir, set_state

log = logging.getLogger(__name__)


def run_export_job(search_id: int, index: int) -> dict:
    """Export candidate ``index`` of search ``search_id``, if its row still waits for this job.

    A bad run (no result.json, an untrained candidate) ends as "failed" with the engine's
    one-line reason; anything else also ends as "failed" and is re-raised for RQ's record."""
    from rq import get_current_job

    from searchapp.nas.export_candidate import ExportError

    job = get_current_job()
    job_id = job.id if job is not None else None  # None: called directly
    cand = Candidate.objects.select_related("search__dataset").filter(
        search_id=search_id, index=index
    )
    cand = cand.first()
    if cand is None:
        return {"status": "deleted"}
    state = cand.export or {}
    if job_id is not None and state.get("job") not in (None, job_id):
        return {"status": "skipped", "reason": f"superseded by job {state['job']}"}
    if state.get("status") != QUEUED:
        return {"status": "skipped", "reason": f"export is {state.get('status') or 'not asked'}"}
    base = {"job": state.get("job", job_id), "queued": state.get("queued")}
    set_state(cand.pk, status=RUNNING, started=timezone.now().isoformat(), **base)
    try:
        done = _export(cand)
    except Exception as exc:
        if not Candidate.objects.filter(pk=cand.pk).exists():  # its search was deleted
            shutil.rmtree(export_dir(search_id, index), ignore_errors=True)
            return {"status": "deleted"}
        expected = isinstance(exc, ExportError)
        reason = str(exc) if expected else queue.EXPORT.failure_reason(exc)
        log.log(
            logging.INFO if expected else logging.ERROR,
            "export %s/%s: %s",
            search_id,
            index,
            reason,
        )
        set_state(cand.pk, status=FAILED, error=reason[: queue.ERROR_CHARS], **base)
        if expected:
            return {"status": FAILED, "error": reason}
        raise
    if not Candidate.objects.filter(pk=cand.pk).exists():
        shutil.rmtree(export_dir(search_id, index), ignore_errors=True)
        return {"status": "deleted"}
    set_state(cand.pk, status=DONE, finished=timezone.now().isoformat(), **base, **done)
    return {"status": DONE, "candidate": index}


def _export(cand: Candidate) -> dict:
    """Run the engine on the search's result.json and dataset; the state of a done export."""
    from searchapp.nas.data import load_npz
    from searchapp.nas.export_candidate import export_candidate, read_run

    from .search import _relative_outputs

    search = cand.search
    run = read_run(search_dir(search.pk))
    data = load_npz(media_path(search.dataset.npz_path))
    result, paths = export_candidate(run, cand.index, data, export_dir(search.pk, cand.index))
    final = result.final or {}
    return {
        "outputs": _relative_outputs(paths),
        "test_acc": final.get("test_acc"),
        "test_ci95": final.get("test_ci95"),
        "epochs": final.get("epochs"),
        "seconds": result.timing,
        "exports": result.exports or {},
    }
