"""The baselines job: MobileNetV2 and EfficientNet-B0 on a finished search's dataset.

Same recipe, epochs, batch size, seed and device as the search (read through the engine's
SearchConfig, so its defaults are the search's), and the same input size it trained at (224
when the search used the imagenet stem, as the paper does for Tiny-ImageNet).
Like the search job, the engine (and torch) is imported inside the job only.
"""

from __future__ import annotations

import logging
import time

from django.utils import timezone

from ..models import BaselineRun, Search
from ..storage import media_path
from . import queue
from .lifecycle import announce_baselines

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 1.0  # epoch reports are saved at most this often


def run_baselines_job(search_id: int) -> dict:
    """Train each queued baseline of the search in turn; each row records its own outcome.

    One failing does not stop the other; the first failure is re-raised at the end so RQ
    keeps its traceback.
    """
    from searchapp.nas.data import load_npz

    search = Search.objects.select_related("dataset", "best").filter(pk=search_id).first()
    if search is None:  # deleted; its runs went with it
        return {"status": "deleted"}
    data = None
    out = {}
    first_error: Exception | None = None
    for run in search.baselines.filter(status=BaselineRun.Status.QUEUED).order_by("id"):
        queued = BaselineRun.objects.filter(pk=run.pk, status=BaselineRun.Status.QUEUED)
        if not queued.exists():  # cancelled or deleted meanwhile
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
                queue.BASELINES.failure_reason(exc),
            ):
                announce_baselines(search_id, "baseline.finished")
    if first_error is not None:
        raise first_error
    return out


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


def _train_one(search: Search, run: BaselineRun, data) -> str:
    from searchapp.nas.baselines import train_baseline
    from searchapp.nas.config import SearchConfig
    from searchapp.nas.train import Cancelled

    row = BaselineRun.objects.filter(pk=run.pk)
    row.update(status=BaselineRun.Status.RUNNING, started=timezone.now(), error="")
    announce_baselines(search.pk, "baseline.progress")
    try:
        config = SearchConfig.from_dict(search.settings or {})
        metrics = train_baseline(
            run.name,
            data,
            config.training_recipe(),
            seed=config.seed,
            device=config.device,
            on_epoch=EpochSaver(run.pk, search.pk),
            should_stop=queue.CancelFlag(BaselineRun, run.pk),
            image_size=input_size(search),
        )
    except Cancelled:
        queue.mark_ended(row, BaselineRun.Status.CANCELLED, progress={})
        return BaselineRun.Status.CANCELLED
    except Exception as exc:
        log.exception("baseline %s of search %s failed", run.name, search.pk)
        queue.mark_ended(
            row, BaselineRun.Status.FAILED, queue.BASELINES.failure_reason(exc), progress={}
        )
        raise
    else:
        queue.mark_ended(row, BaselineRun.Status.FINISHED, progress={}, metrics=metrics)
        return BaselineRun.Status.FINISHED
    finally:
        announce_baselines(search.pk, "baseline.finished")  # the row says how it ended


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
        announce_baselines(self.search_id, "baseline.progress")
