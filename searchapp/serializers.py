"""JSON shapes shared by the API, the socket snapshot and the live events."""

from __future__ import annotations

from django.urls import reverse

from searchapp.nas.space import Arch, table

from .models import Candidate, Dataset, Search


def _iso(dt) -> str | None:
    return dt.isoformat() if dt else None


def arch_short(arch: dict) -> str:
    try:
        return Arch.from_dict(arch).short
    except ValueError:
        return ""


def arch_table(arch: dict, image_size: int) -> list[dict]:
    """Table-1 rows (layer, ch, dims, stride, op, k) of an architecture."""
    try:
        return table(Arch.from_dict(arch), image_size)
    except ValueError:
        return []


def candidate_json(c: Candidate) -> dict:
    return {
        "index": c.index,
        "phase": c.phase,
        "arch": c.arch,
        "arch_short": arch_short(c.arch),
        "params": c.params,
        "macs": c.macs,
        "train_acc": c.train_acc,
        "test_acc": c.test_acc,
        "loss_curve": c.loss_curve,
        "epochs": c.epochs,
        "batch_size": c.batch_size,
        "seconds": c.seconds,
        "device": c.device,
        "accepted": c.accepted,
        "reason": c.reason,
        "status": c.status,
    }


def best_json(search: Search) -> dict | None:
    """The best candidate so far, with its Table-1 rows."""
    best = search.best
    if best is None:
        return None
    data = candidate_json(best)
    data["table"] = arch_table(best.arch, search.dataset.image_size)
    return data


def downloads(search: Search) -> dict:
    """URLs of the weight files that exist for this search."""
    from .storage import media_path

    urls = {}
    for fmt in ("pt", "onnx"):
        rel = (search.outputs or {}).get(fmt)
        if rel and media_path(rel).is_file():
            urls[fmt] = reverse("searchapp-download", args=[search.pk, fmt])
    return urls


def search_json(search: Search) -> dict:
    return {
        "id": search.pk,
        "url": search.get_absolute_url(),
        "dataset": {"id": search.dataset_id, "name": search.dataset.name},
        "status": search.status,
        "phase": search.phase,
        "progress": search.progress,
        "settings": search.settings,
        "created": _iso(search.created),
        "started": _iso(search.started),
        "finished": _iso(search.finished),
        "duration": search.duration,
        "error": search.error,
        "cancel_requested": search.cancel_requested,
        "seq": search.seq,
        "best": best_json(search),
        "downloads": downloads(search),
    }


def snapshot(search: Search) -> dict:
    """Everything a page needs to redraw: what the socket sends on connect or on resync."""
    rows = list(search.candidates.order_by("index"))
    running = [c for c in rows if not c.is_finished]
    return {
        "type": "snapshot",
        "seq": search.seq,
        "search": search_json(search),
        "candidates": [candidate_json(c) for c in rows if c.is_finished],
        "running": candidate_json(running[-1]) if running else None,
    }


def dataset_json(d: Dataset) -> dict:
    return {
        "id": d.pk,
        "url": d.get_absolute_url(),
        "name": d.name,
        "source": d.source,
        "classes": d.classes,
        "counts": d.counts,
        "image_size": d.image_size,
        "num_train": d.num_train,
        "num_test": d.num_test,
        "rejected": d.rejected,
        "created": _iso(d.created),
    }
