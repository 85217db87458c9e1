"""The packing job: an uploaded dataset decoded, checked and packed on a worker, not in the web
process.

It reads the upload's raw files (tasks/packing.py says where) through the engine
(`load_dataset`, strict=False: bad files are listed in `rejected`), writes data.npz and the
thumbnails once, and marks the dataset ready; or failed, with the reason a user can act on. The
raw files are removed either way. A dataset deleted while it is packed leaves nothing behind:
the job notices the row is gone and removes what it wrote. Its end admits the next upload.
"""

from __future__ import annotations

import logging
import zipfile
import zlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from searchapp.nas.data import DataError, load_dataset

from ..models import Dataset
from ..storage import (
    check_storage_quota,
    dataset_dir,
    folder_bytes,
    imagedata_fields,
    used_bytes,
    write_packed,
)
from .packing import (
    PACKING,
    admit_packing,
    capped_rejected,
    engine_limits,
    fail_packing,
    forget_if_deleted,
    raw_folder,
    raw_zip,
    remove_raw,
    without_local_path,
)
from .queue import PACK

log = logging.getLogger(__name__)


def run_pack_job(dataset_id: int) -> dict:
    """Decode and pack the upload of dataset `dataset_id`: it ends ready, or failed with the
    reason. A dataset deleted before or while the job runs leaves no files."""
    rows = Dataset.objects.filter(pk=dataset_id, status=PACKING)
    dataset = rows.select_related("owner").first()
    if dataset is None:  # deleted before it started (or packed by an earlier run)
        forget_if_deleted(dataset_id)
        transaction.on_commit(admit_packing)
        return {"dataset": dataset_id, "status": "gone"}
    rows.update(packing={**dataset.packing, "started": timezone.now().isoformat()})
    try:
        status = _pack(dataset)
    except Exception as exc:
        reason = PACK.failure_reason(exc).replace(str(settings.MEDIA_ROOT), "MEDIA_ROOT")
        if fail_packing(dataset_id, reason):
            log.exception("packing dataset %s failed", dataset_id)
            raise  # RQ keeps the traceback
        status = "deleted"
    finally:
        remove_raw(dataset_id)
        transaction.on_commit(admit_packing)  # its slot on the workers is free
    return {"dataset": dataset_id, "status": status}


def _pack(dataset: Dataset) -> str:
    """Read, pack and save; "ready", "failed" (reason on the row) or "deleted"."""
    pk, owner, folder = dataset.pk, dataset.owner, dataset_dir(dataset.pk)
    source = raw_zip(pk) if raw_zip(pk).is_file() else raw_folder(pk)
    try:
        used = used_bytes(owner) - folder_bytes(folder)  # without its own raw files
        check_storage_quota(owner, used=used)
        data = load_dataset(
            source, strict=False, limits=engine_limits(dataset.packing.get("max_side"))
        )
    except DataError as exc:
        return _refuse(pk, without_local_path(str(exc), source))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        # a zip entry that lies about its size or checksum fails while it is read
        return _refuse(pk, f"corrupt archive: {without_local_path(str(exc), source)}")
    remove_raw(pk)  # read: its raw files no longer count
    data.rejected = capped_rejected(list(dataset.rejected) + list(data.rejected))
    try:
        npz_path = write_packed(folder, data)
        check_storage_quota(owner, folder_bytes(folder), used=used)
    except DataError as exc:  # over the quota once packed
        return _refuse(pk, str(exc))
    fields = imagedata_fields(data)
    done = Dataset.objects.filter(pk=pk, status=PACKING).update(
        status=Dataset.Status.READY, npz_path=npz_path, packing={}, error="", **fields
    )
    if not done:  # deleted while it was packed
        forget_if_deleted(pk)
        return "deleted"
    return "ready"


def _refuse(dataset_id: int, message: str) -> str:
    return "failed" if fail_packing(dataset_id, message) else "deleted"
