"""JSON shapes shared by the API, the socket snapshot and the live events."""

from __future__ import annotations

from django.urls import reverse

from searchapp.nas.space import Arch, table

from .derive import suite_rows
from .models import BaselineRun, Candidate, Dataset, Search, SuiteRun


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
    """The public fields of the candidate's record, plus its short architecture string."""
    return c.as_record().public() | {"arch_short": arch_short(c.arch)}


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
        "selection_split": (search.settings or {}).get("select_on", "test"),
        "final": search.final or None,
    }


def compare_json(search: Search) -> dict:
    """A finished search as the compare page shows it: its result, Table-1 rows and candidates."""
    data = search_json(search)
    data["candidates"] = [
        {k: c[k] for k in ("index", "phase", "params", "test_acc", "accepted", "arch_short")}
        | {"test_ci95": c.get("test_ci95")}
        for c in (candidate_json(c) for c in search.candidates.order_by("index"))
        if c["status"] != "running"
    ]
    return data


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
        "baselines": baseline_rows(search),
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
        "resized": d.resized,
        "created": _iso(d.created),
    }


# ----------------------------------------------------------------------------- the suite page


def suite_row_json(row: dict) -> dict:
    """A row of derive.suite_rows as the suite page draws it and its socket sends it."""
    d, s = row["dataset"], row["search"]
    if s is not None:
        latest = (s.get_absolute_url(), f"Search {s.pk} · {s.status}")
    elif d is not None:
        latest = (f"{reverse('searchapp-search-new')}?dataset={d.pk}", "start one")
    else:
        latest = ("", "–")
    return {
        **{k: v for k, v in row.items() if k not in ("dataset", "search")},
        "dataset_url": d.get_absolute_url() if d else "",
        "archive_missing": d is None and not row["source_found"],
        "train_differs": row["train"] != row["paper_train"],
        "test_differs": row["test"] != row["paper_test"],
        "latest_url": latest[0],
        "latest_label": latest[1],
    }


def suite_run_json(run: SuiteRun) -> dict:
    counts: dict[str, int] = {}
    for r in run.log:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return {
        "id": run.pk,
        "status": run.status,
        "active": run.is_active,
        "error": run.error,
        "counts": counts,
        "problems": [r for r in run.log if r["status"] in ("skipped", "failed")],
    }


def suite_snapshot(owner, run: SuiteRun | None) -> dict:
    """Everything the suite page redraws: what its socket sends on connect and after each entry
    (the whole of it each time: it is small, and then a lost message costs nothing)."""
    rows = [suite_row_json(r) for r in suite_rows(owner)]
    return {
        "type": "snapshot",
        "run": suite_run_json(run) if run else None,
        "rows": rows,
        "created": sum(1 for r in rows if r["dataset_url"]),
    }


def baseline_rows(search: Search) -> list[dict]:
    """The search's baselines, M-Net first, with parameter efficiency against the found net."""
    found = search.best.params if search.best else None
    order = {n: i for i, n in enumerate(BaselineRun.NAMES)}
    rows = []
    for run in sorted(search.baselines.all(), key=lambda r: order.get(r.name, 99)):
        m = run.metrics or {}
        params = m.get("params")
        rows.append(
            {
                "id": run.pk,
                "name": run.name,
                "label": BaselineRun.LABELS.get(run.name, run.name),
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
