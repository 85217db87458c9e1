"""The baselines job: MobileNetV2 and EfficientNet-B0 on a finished search's dataset.

Same recipe, epochs, batch size, seed and device as the search, and the same input size it
trained at (224 when the search used the imagenet stem, as the paper does for Tiny-ImageNet).
Like the search job, the engine (and torch) is imported inside the job only.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils import timezone

from ..models import BaselineRun, Search
from ..storage import media_path
from . import broadcast, queue

log = logging.getLogger(__name__)

NAMES = ("mobilenet_v2", "efficientnet_b0")  # M-Net, E-Net (the paper's order in Table 6)
LABELS = {"mobilenet_v2": "MobileNetV2 (M-Net)", "efficientnet_b0": "EfficientNet-B0 (E-Net)"}
PROGRESS_SECONDS = 1.0  # epoch reports are saved at most this often


class BaselineError(ValueError):
    """The search cannot have baselines (yet)."""


def search_stem(search: Search) -> str:
    """The stem the search trained with: its setting, else its best arch's, else by size."""
    from searchapp.nas.space import default_stem

    stem = (search.settings or {}).get("stem")
    if not stem and search.best is not None:
        stem = (search.best.arch or {}).get("stem")
    return stem or default_stem(search.dataset.image_size)


def input_size(search: Search) -> int | None:
    """The side the baselines see: 224 when the search upscaled, else the data's own (None)."""
    from searchapp.nas.space import IMAGENET_STEM_INPUT

    if search_stem(search) == "imagenet" and search.dataset.image_size != IMAGENET_STEM_INPUT:
        return IMAGENET_STEM_INPUT
    return None


def start_baselines(search: Search) -> list[BaselineRun]:
    """Replace the search's baseline runs by fresh ones and queue their job after commit."""
    if search.status != Search.Status.FINISHED:
        raise BaselineError("baselines need a finished search")
    if search.baselines.filter(status__in=BaselineRun.ACTIVE).exists():
        raise BaselineError("baselines are already queued or running for this search")
    job_id = JOB.new_id(search.pk)
    with transaction.atomic():
        search.baselines.all().delete()
        runs = [BaselineRun.objects.create(search=search, name=n, rq_job_id=job_id) for n in NAMES]
        rows = BaselineRun.objects.filter(search_id=search.pk, rq_job_id=job_id)
        JOB.enqueue_on_commit(
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
        announce(search.pk, "baseline.finished")


def announce(search_id: int, event_type: str) -> None:
    """Send the search's baseline rows to its page, numbered with the search's events
    ("baseline.progress" or "baseline.finished"); the page replaces its rows with them."""
    broadcast.record(search_id, event_type, lambda search: {"baselines": baseline_rows(search)})


def run_baselines_job(search_id: int) -> dict:
    """Train each queued baseline of the search in turn; each row records its own outcome.

    One failing does not stop the other; the first failure is re-raised at the end so RQ
    keeps its traceback.
    """
    from searchapp.nas.data import load_npz

    search = Search.objects.select_related("dataset", "best").get(pk=search_id)
    data = None
    out = {}
    first_error: Exception | None = None
    for run in search.baselines.filter(status=BaselineRun.Status.QUEUED).order_by("id"):
        run.refresh_from_db()
        if run.status != BaselineRun.Status.QUEUED:  # cancelled meanwhile
            continue
        try:
            if data is None:
                data = load_npz(media_path(search.dataset.npz_path))
            out[run.name] = _train_one(search, run, data)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, re-raised below
            out[run.name] = BaselineRun.Status.FAILED
            first_error = first_error or exc
            # failed before training (else _train_one said why): say why
            if queue.mark_ended(
                BaselineRun.objects.filter(pk=run.pk, status=BaselineRun.Status.QUEUED),
                BaselineRun.Status.FAILED,
                JOB.failure_reason(exc),
            ):
                announce(search_id, "baseline.finished")
    if first_error is not None:
        raise first_error
    return out


# Baselines train as long as a search may (the same recipe on bigger nets).
JOB = queue.JobKind("baselines", run_baselines_job, queue.GPU_QUEUE, "SEARCH_JOB_TIMEOUT")


def _train_one(search: Search, run: BaselineRun, data) -> str:
    from searchapp.nas.baselines import train_baseline
    from searchapp.nas.train import Cancelled, get_recipe

    row = BaselineRun.objects.filter(pk=run.pk)
    row.update(status=BaselineRun.Status.RUNNING, started=timezone.now(), error="")
    announce(search.pk, "baseline.progress")
    cfg = search.settings or {}
    try:
        recipe = get_recipe(cfg.get("recipe", "fast"), cfg.get("epochs"), cfg.get("batch_size"))
        metrics = train_baseline(
            run.name,
            data,
            recipe,
            seed=int(cfg.get("seed") or 0),
            device=cfg.get("device") or "auto",
            on_epoch=EpochSaver(run.pk, search.pk),
            should_stop=queue.CancelFlag(BaselineRun, run.pk),
            image_size=input_size(search),
        )
    except Cancelled:
        queue.mark_ended(row, BaselineRun.Status.CANCELLED, progress={})
        return BaselineRun.Status.CANCELLED
    except Exception as exc:
        log.exception("baseline %s of search %s failed", run.name, search.pk)
        queue.mark_ended(row, BaselineRun.Status.FAILED, JOB.failure_reason(exc), progress={})
        raise
    else:
        queue.mark_ended(row, BaselineRun.Status.FINISHED, progress={}, metrics=metrics)
        return BaselineRun.Status.FINISHED
    finally:
        announce(search.pk, "baseline.finished")  # the row says how it ended


class EpochSaver:
    """on_epoch(): keep the latest epoch report on the row and show it on the search's page
    (throttled, the last one always)."""

    def __init__(self, run_id: int, search_id: int):
        self.run_id = run_id
        self.search_id = search_id
        self.saved = 0.0

    def __call__(self, event: dict) -> None:
        now = time.monotonic()
        last = event.get("epoch") == event.get("epochs")
        if not last and now - self.saved < PROGRESS_SECONDS:
            return
        self.saved = now
        keys = ("epoch", "epochs", "loss", "train_acc", "test_acc")
        BaselineRun.objects.filter(pk=self.run_id).update(progress={k: event.get(k) for k in keys})
        announce(self.search_id, "baseline.progress")


# ----------------------------------------------------------------------------- display


def baseline_rows(search: Search) -> list[dict]:
    """The search's baselines, M-Net first, with parameter efficiency against the found net."""
    found = search.best.params if search.best else None
    order = {n: i for i, n in enumerate(NAMES)}
    rows = []
    for run in sorted(search.baselines.all(), key=lambda r: order.get(r.name, 99)):
        m = run.metrics or {}
        params = m.get("params")
        rows.append(
            {
                "id": run.pk,
                "name": run.name,
                "label": LABELS.get(run.name, run.name),
                "status": run.status,
                "test_acc": m.get("test_acc"),
                "train_acc": m.get("train_acc"),
                "params": params,
                "macs": m.get("macs"),
                "epochs": m.get("epochs"),
                "seconds": m.get("seconds"),
                "device": m.get("device", ""),
                "image_size": m.get("image_size"),
                "efficiency": (params / found) if params and found else None,
                "progress": run.progress or {},
                "error": run.error,
                "active": run.is_active,
            }
        )
    return rows
