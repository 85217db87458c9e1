"""What the packing job and the upload service share: an upload's limits, its rejected-files
list, where its raw files wait, how a packing dataset fails, and whose turn it is.

An upload (searchapp/uploads.py) leaves its raw files in the dataset's folder (datasets/<id>/raw/
for a folder, datasets/<id>/raw.zip for a zip) and a Dataset row with status "packing"; the job
(tasks/pack.py) packs them.

Admission (`admit_packing`): at most PACK_MAX_CONCURRENT packing jobs are on the workers (in the
`default` queue or running) at once, and at most one per user; the other uploads wait in the
database, oldest first. Admission runs when an upload is handed over, when a packing job ends
and in every reconciler pass, which also fails a packing dataset whose job died (its work-horse
killed, out of memory) instead of leaving it packing for ever.
"""

from __future__ import annotations

import logging
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from searchapp.nas.limits import Limits

from ..models import Dataset
from ..storage import dataset_dir
from . import queue
from .queue import PACK

log = logging.getLogger(__name__)

PACKING = Dataset.Status.PACKING
QUEUED_GRACE_SECONDS = 60
"""A job id this fresh may not be in Redis yet (admitted, about to be enqueued): not lost."""
LOST = (
    "the packing job stopped before it finished (its worker was stopped, or it ran out of "
    "memory); upload the dataset again, perhaps at a smaller working resolution"
)
WAITING = ("queued", "deferred", "scheduled", "created", "started")


def engine_limits(max_side: int | None = None) -> Limits:
    """The engine loader's limits, from the UPLOAD_* and DATASET_* settings; ``max_side`` is
    a working resolution the upload asked for (uploads.working_side)."""
    return Limits(
        max_entries=settings.UPLOAD_MAX_ZIP_ENTRIES,
        max_unpacked_bytes=settings.UPLOAD_MAX_UNPACKED_BYTES,
        max_ratio=settings.UPLOAD_MAX_ZIP_RATIO,
        max_image_bytes=settings.UPLOAD_MAX_FILE_BYTES,
        max_side=max_side or settings.DATASET_MAX_SIDE,
        max_pixels=settings.DATASET_MAX_PIXELS,
    )


# ----------------------------------------------------------------------------- rejected files

REJECTED_MAX_ENTRIES = 200
"""Refused files listed with their reasons; past this, one line says how many more there were."""
REJECTED_MAX_NAME = 300
"""Characters of a refused file's name that are kept (the middle is cut with an ellipsis)."""
MORE = "…"
_MORE_REASON = re.compile(r"and (\d+) more files? refused")


def short_name(name: str, limit: int = REJECTED_MAX_NAME) -> str:
    """``name`` cut in the middle with an ellipsis when it is longer than ``limit``."""
    if len(name) <= limit:
        return name
    keep = limit - 1
    return name[: keep - keep // 3] + "…" + name[len(name) - keep // 3 :]


def capped_rejected(entries) -> list[list[str]]:
    """At most REJECTED_MAX_ENTRIES [name, reason] pairs, names and reasons cut to size; the
    rest are counted in a last entry, so one upload cannot store megabytes of names."""
    kept, more = [], 0
    for name, reason in entries:
        counted = _MORE_REASON.fullmatch(str(reason)) if name == MORE else None
        if counted:  # the summary line of an earlier batch
            more += int(counted[1])
        elif len(kept) < REJECTED_MAX_ENTRIES:
            kept.append([short_name(str(name)), short_name(str(reason))])
        else:
            more += 1
    if more:
        kept.append([MORE, f"and {more} more file{'s' if more != 1 else ''} refused"])
    return kept


def without_local_path(message: str, path: Path) -> str:
    """Engine messages start with the server path; users only need the reason."""
    for prefix in (f"{path}: ", f"{path}"):
        if message.startswith(prefix):
            return message[len(prefix) :] or message
    return message.replace(str(path), "upload")


# ----------------------------------------------------------------------------- raw files


def raw_folder(dataset_id: int) -> Path:
    """Where a folder upload's files wait to be packed."""
    return dataset_dir(dataset_id) / "raw"


def raw_zip(dataset_id: int) -> Path:
    """Where an uploaded zip waits to be packed."""
    return dataset_dir(dataset_id) / "raw.zip"


def remove_raw(dataset_id: int) -> None:
    shutil.rmtree(raw_folder(dataset_id), ignore_errors=True)
    raw_zip(dataset_id).unlink(missing_ok=True)


def fail_packing(dataset_id: int, message: str, job_id: str | None = None) -> bool:
    """Mark the packing dataset failed and remove its files; False when it was deleted (its
    files are removed too) or has ended already."""
    rows = Dataset.objects.filter(pk=dataset_id, status=PACKING)
    if job_id is not None:
        rows = rows.filter(rq_job_id=job_id)
    ended = rows.update(
        status=Dataset.Status.FAILED, error=message[: queue.ERROR_CHARS], packing={}
    )
    if ended:
        shutil.rmtree(dataset_dir(dataset_id), ignore_errors=True)
    else:
        forget_if_deleted(dataset_id)
    return bool(ended)


def forget_if_deleted(dataset_id: int) -> None:
    """Remove datasets/<id>/ when no such dataset exists (deleted while it was packed)."""
    if not Dataset.objects.filter(pk=dataset_id).exists():
        shutil.rmtree(dataset_dir(dataset_id), ignore_errors=True)


# ----------------------------------------------------------------------------- whose turn


def admit_packing() -> list[int]:
    """Hand waiting uploads to the workers, oldest first: at most PACK_MAX_CONCURRENT packing
    jobs queued or running, one per user. Fails packing datasets whose job died first.
    Returns the ids admitted; never raises (what it cannot do now, a later call does)."""
    admitted: list[int] = []
    try:
        reap_lost(queue.connection())
        while (claim := _claim_next()) is not None:
            pk, job_id = claim
            try:
                PACK.enqueue(pk, job_id)
            except Exception:
                # Redis is down: the upload waits again; a later admission hands it over
                Dataset.objects.filter(pk=pk, rq_job_id=job_id, status=PACKING).update(rq_job_id="")
                raise
            admitted.append(pk)
    except Exception as exc:  # noqa: BLE001 - never fail a request or a job over admission
        log.error("packing admission stopped after %s: %s", admitted or "none", exc)
    return admitted


def _claim_next() -> tuple[int, str] | None:
    """Give the oldest waiting upload of a user with none on the workers a job id, while
    fewer than PACK_MAX_CONCURRENT are there; None when there is no such upload."""
    with transaction.atomic():
        rows = list(
            Dataset.objects.select_for_update()
            .filter(status=PACKING)
            .order_by("created", "pk")
            .values_list("pk", "owner_id", "rq_job_id", "packing")
        )
        busy = {owner for _, owner, job, _ in rows if job}
        if sum(1 for *_, job, _ in rows if job) >= settings.PACK_MAX_CONCURRENT:
            return None
        for pk, owner, job, packing in rows:
            if not job and owner not in busy:
                job_id = PACK.new_id(pk)
                queued = {**packing, "queued": timezone.now().isoformat()}
                Dataset.objects.filter(pk=pk).update(rq_job_id=job_id, packing=queued)
                return pk, job_id
    return None


def reap_lost(connection) -> list[int]:
    """Fail every packing dataset whose job is gone from Redis or ended without packing it
    (its work-horse was killed); returns their ids."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    lost = []
    on_workers = Dataset.objects.filter(status=PACKING).exclude(rq_job_id="")
    for pk, job_id, packing in on_workers.values_list("pk", "rq_job_id", "packing"):
        try:
            status = Job.fetch(job_id, connection=connection).get_status(refresh=False)
        except NoSuchJobError:
            if _fresh(packing.get("queued")):
                continue  # admitted a moment ago, about to be enqueued
            status = None
        if status in WAITING:
            continue
        log.warning("packing dataset %s: job %s is %s", pk, job_id, status or "gone")
        if fail_packing(pk, LOST, job_id=job_id):
            lost.append(pk)
    return lost


def _fresh(when: str | None) -> bool:
    try:
        at = datetime.fromisoformat(when or "")
    except ValueError:
        return False
    return at > timezone.now() - timedelta(seconds=QUEUED_GRACE_SECONDS)
