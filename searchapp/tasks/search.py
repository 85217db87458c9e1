"""The search job: runs (or resumes) one search in a worker, and writes its outputs.

With ``parallel`` > 1 the job is the search's coordinator and its candidates fan out as
candidate jobs (candidates.py). The engine (and with it torch) is imported inside the job,
never at module import, so the worker's parent process never touches CUDA before RQ forks a job.
"""

from __future__ import annotations

import logging
import shutil

from django.utils import timezone

from ..models import Candidate, Search
from ..storage import media_path, search_dir, write_mistake_images
from . import queue
from .events import EventRecorder
from .lease import Lease
from .lifecycle import fail_search, finish_search

log = logging.getLogger(__name__)


def run_search_job(search_id: int) -> dict:
    """Run (or resume) one search; every event is saved, numbered and broadcast.

    Only the job named in `search.rq_job_id` may run the search, and only while it holds the
    search's lease, so a search queued twice (or re-queued by the reconciler while an old job
    still lives) runs once. The others return {"status": "skipped"} without touching it.
    A search deleted while its job runs stops within an epoch; the job removes what it wrote
    and returns {"status": "deleted"}, never an error.
    """
    from rq import get_current_job

    job = get_current_job()
    job_id = job.id if job is not None else None  # None: called directly (tests, commands)
    search = Search.objects.select_related("dataset").filter(pk=search_id).first()
    if search is None:
        return _deleted(search_id)
    if job_id is not None and search.rq_job_id and search.rq_job_id != job_id:
        log.info("search %s: job %s superseded by %s", search_id, job_id, search.rq_job_id)
        return {"status": "skipped", "reason": f"superseded by job {search.rq_job_id}"}
    if search.status not in Search.ACTIVE:
        return {"status": "skipped", "reason": f"search is already {search.status}"}
    if search.cancel_requested and search.status == Search.Status.QUEUED:
        finish_search(search_id, Search.Status.CANCELLED)
        return {"status": Search.Status.CANCELLED}
    lease = Lease(queue.connection(), search_id, job_id)
    if not lease.acquire():
        return {"status": "skipped", "reason": "another job is running this search"}
    try:
        return _run(search, lease)
    except Exception as exc:
        if lease.lost:
            return {"status": "skipped", "reason": "another job took the search over"}
        if not Search.objects.filter(pk=search_id).exists():
            log.info("search %s was deleted while running (%s)", search_id, exc)
            return _deleted(search_id)
        log.exception("search %s failed", search_id)
        search.candidates.filter(status=Candidate.RUNNING).delete()  # never finished
        fail_search(search_id, queue.SEARCH.failure_reason(exc))
        raise
    finally:
        lease.release()


def _run(search: Search, lease: Lease) -> dict:
    from searchapp.nas.data import load_npz
    from searchapp.nas.export import write_outputs
    from searchapp.nas.search import SearchConfig, run_search

    # A candidate left "running" by a killed worker is trained again.
    search.candidates.filter(status=Candidate.RUNNING).delete()
    Search.objects.filter(pk=search.pk).update(
        status=Search.Status.RUNNING,
        started=search.started or timezone.now(),
        finished=None,
        error="",
    )
    data = load_npz(media_path(search.dataset.npz_path))
    config = SearchConfig.from_dict(search.settings)
    records = [c.record for c in search.candidates.order_by("index") if c.record]
    out_dir = search_dir(search.pk)
    work_dir = out_dir / "work"
    work_dir.mkdir(parents=True, exist_ok=True)

    result = run_search(
        data,
        config,
        on_event=EventRecorder(search.pk),
        records=records,
        should_stop=queue.CancelFlag(Search, search.pk, lost=lambda: lease.lost),
        work_dir=str(work_dir),
        executor=_executor(config, search.pk),
    )
    if lease.lost:  # another job runs the search now; leave everything to it
        return {"status": "skipped", "reason": "another job took the search over"}
    if not Search.objects.filter(pk=search.pk).exists():  # deleted: its cancel flag stopped us
        return _deleted(search.pk)
    # A candidate interrupted by Cancel never finished; it is not part of the result.
    search.candidates.filter(status=Candidate.RUNNING).delete()
    outputs = {}
    if result.best and result.model_state is not None:
        # The final model's weights when trained; then (unless cancelled) its int8 exports,
        # each checked on the test split. A failed int8 export is an {"error"} entry in
        # result.exports beside the float32 files: it never fails the search.
        paths = write_outputs(
            result, data, out_dir, int8=not result.cancelled, on_event=EventRecorder(search.pk)
        )
        outputs = _relative_outputs(paths)
    _write_mistakes(search.pk, result.final, data.x_test)
    Search.objects.filter(pk=search.pk).update(
        final=result.final or {}, exports=result.exports or {}, phase="done"
    )
    shutil.rmtree(work_dir, ignore_errors=True)
    status = Search.Status.CANCELLED if result.cancelled else Search.Status.FINISHED
    best_index = result.best["index"] if result.best else None
    finish_search(search.pk, status, outputs=outputs, best_index=best_index)
    return {"status": status, "best": best_index, "candidates": len(result.candidates)}


def _write_mistakes(search_id: int, final: dict | None, x_test) -> None:
    """The final model's misclassified test images as PNG files (storage.mistakes_dir), from
    the split this job holds, before the page learns of them: the web serves them as files.
    A failed write (disk full) leaves the search without them, never fails it."""
    wrong = (final or {}).get("misclassified") or []
    if not wrong:
        return
    try:
        write_mistake_images(search_id, x_test, [m["index"] for m in wrong])
    except OSError as exc:
        log.warning("search %s: the images of its mistakes were not written (%s)", search_id, exc)


def _executor(config, search_id: int):
    """parallel > 1: the candidates fan out as RQ jobs (tasks/candidates.py)."""
    if config.parallel <= 1:
        return None
    from .candidates import RQExecutor

    return lambda engine_search: RQExecutor(engine_search, search_id)


def _deleted(search_id: int) -> dict:
    """The search's row is gone: remove what its job wrote, and end without an error."""
    shutil.rmtree(search_dir(search_id), ignore_errors=True)
    return {"status": "deleted"}


# write_outputs' artifact names -> Search.outputs keys (the download kinds)
OUTPUT_KINDS = {
    "result": "json",
    "weights": "pt",
    "onnx": "onnx",
    "int8_onnx": "int8_onnx",
    "int8_tflite": "int8_tflite",
    "c_source": "c_source",
    "c_header": "c_header",
}


def _relative_outputs(paths: dict) -> dict:
    """{"pt": ..., "onnx": ..., "json": ..., "int8_onnx": ...} relative to MEDIA_ROOT.

    Keyed by artifact name (write_outputs' dict keys), not by suffix: model.onnx and
    model_int8.onnx share one.
    """
    root = media_path("").resolve()
    outputs = {}
    for name, p in paths.items():
        p = media_path(str(p)).resolve()  # an absolute path stays as it is
        outputs[OUTPUT_KINDS.get(name, name)] = p.relative_to(root).as_posix()
    return outputs
