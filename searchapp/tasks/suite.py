"""The suite job: derive every entry of the paper's suite that the owner lacks, one log row each.

CPU work on the "default" queue (workers take it after "gpu"). The datasets themselves are made
by searchapp.derive, exactly as a manual derive makes them.
"""

from __future__ import annotations

import logging
import time

from django.utils import timezone

from searchapp.nas.data import DataError
from searchapp.nas.derived import SOURCES, suite_plan

from ..derive import create_derived_dataset, source_path
from ..models import Dataset, SuiteRun
from . import queue
from .lifecycle import announce_suite

log = logging.getLogger(__name__)


def run_suite_job(run_id: int) -> dict:
    """Derive every suite entry the owner lacks whose source is present; log each one."""
    run = SuiteRun.objects.select_related("owner").get(pk=run_id)
    rows = SuiteRun.objects.filter(pk=run_id)
    rows.update(status=SuiteRun.Status.RUNNING, started=timezone.now())
    announce_suite(run_id, "suite.progress")
    try:
        log_rows = _derive_suite(run)
    except Exception as exc:
        log.exception("suite run %s failed", run_id)
        queue.mark_ended(rows, SuiteRun.Status.FAILED, queue.SUITE.failure_reason(exc))
        announce_suite(run_id, "suite.finished")
        raise
    queue.mark_ended(rows, SuiteRun.Status.FINISHED)
    announce_suite(run_id, "suite.finished")
    counts: dict[str, int] = {}
    for r in log_rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def _derive_suite(run: SuiteRun) -> list[dict]:
    """One log row per entry of the engine's suite plan, saved (and announced) as it goes."""
    owner = run.owner
    have = set(
        Dataset.objects.filter(owner=owner).exclude(suite="").values_list("suite", flat=True)
    )
    rows: list[dict] = []

    def save_log() -> None:
        SuiteRun.objects.filter(pk=run.pk).update(log=rows)
        announce_suite(run.pk, "suite.progress")

    paths = {kind: source_path(kind) for kind in SOURCES}
    for entry, derive in suite_plan(paths["cifar10"], paths["tinyimagenet"]):
        name, kind = entry["name"], entry["source"]
        row = {"name": name, "status": "", "dataset": None, "message": "", "seconds": 0.0}
        rows.append(row)
        if name in have:
            d = Dataset.objects.filter(owner=owner, suite=name).order_by("created", "id").first()
            row.update(status="exists", dataset=d.pk if d else None)
            continue
        if derive is None:
            # the page shows this to the owner: the archive's name, not the server's path
            row.update(status="skipped", message=f"no {SOURCES[kind]['file']} on the server")
            save_log()
            continue
        t0 = time.perf_counter()
        try:
            d = create_derived_dataset(
                owner,
                kind,
                entry["classes"],
                paths[kind],
                name=f"{name} (suite)",
                suite=name,
                data=derive(),
            )
            row.update(status="created", dataset=d.pk)
        except DataError as exc:
            row.update(status="failed", message=str(exc))
        row["seconds"] = round(time.perf_counter() - t0, 2)
        save_log()
    save_log()
    return rows
